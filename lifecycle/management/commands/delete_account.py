from django.core.management.base import BaseCommand, CommandError

from accounts.backends import find_user
from lifecycle import deletion, holds
from lifecycle.models import AccountDeletion


class Command(BaseCommand):
    help = (
        "Delete one person's account (RGT-3). Without --now the deletion is scheduled after the "
        "cooling-off period, as in the account center; --now deletes at once, for a deletion "
        "whose requester staff have verified."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", help="The person's phone number or e-mail address.")
        parser.add_argument("--now", action="store_true", help="Delete at once.")
        parser.add_argument(
            "--reference", default="", help="The reference of the request asking for it."
        )

    def handle(self, *args, identifier, now, reference, **options):
        user = find_user(identifier)
        if user is None or user.is_erased:
            raise CommandError("No account has this phone number or e-mail address.")
        try:
            if now:
                done = deletion.delete_now(
                    user, channel=AccountDeletion.Channel.STAFF, request_reference=reference
                )
                if done is None:
                    held = holds.held_for(user)
                    if held.whole or "account" in held.categories:
                        raise CommandError(
                            "A legal hold covers this person: the deletion is scheduled and "
                            "runs when the hold ends."
                        )
                    raise CommandError("The deletion could not be carried out; try again.")
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Account {done.user} deleted. Certificate code: {done.code}"
                    )
                )
                return
            scheduled = deletion.schedule(
                user, channel=AccountDeletion.Channel.STAFF, request_reference=reference
            )
        except deletion.DeletionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Deletion of {scheduled.user} scheduled for {scheduled.execute_after:%Y-%m-%d}. "
                f"Certificate code: {scheduled.code}"
            )
        )
