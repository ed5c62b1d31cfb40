"""A recipient acknowledges an erasure through its signed callback URL. (To be built.)"""

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def acknowledge(request, pk, token):
    return HttpResponse(status=501)
