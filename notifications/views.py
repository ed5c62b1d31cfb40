"""The account center's list of the messages sent to a person (issue 11): every e-mail and
SMS, with its whole text, so that people without an e-mail address read in full what an SMS
only announced."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from .models import Notification

PAGE_SIZE = 20


@login_required
def messages(request):
    notes = (
        Notification.objects.filter(recipient=request.user)
        .exclude(channel=Notification.Channel.WEBHOOK)
        .only("subject", "body", "channel", "status", "created_at", "sent_at", "to_phone")
        .order_by("-created_at", "-id")
    )
    page = Paginator(notes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/messages.html", {"page": page})
