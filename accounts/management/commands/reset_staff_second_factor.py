"""Reset a staff member's second factor, e.g. after a lost phone (VER-4, AUD-1)."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from accounts import second_factor
from accounts.backends import find_user


class Command(BaseCommand):
    help = (
        "Delete a staff member's authenticator app and backup codes and end all their sessions: "
        "at the next admin sign-in they set up a new second factor. Recorded in the audit log. "
        "Check who is asking first (e.g. in person or by a call to a known number)."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifier", help="The staff member's e-mail address or phone.")
        parser.add_argument(
            "--by",
            metavar="STAFF_EMAIL",
            help="The staff member responsible for the reset (else the operating-system user).",
        )
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, identifier, by, yes, **options):
        user = find_user(identifier)
        if user is None or user.is_erased:
            raise CommandError("No account has this e-mail address or phone number.")
        actor, by_label = None, ""
        if by:
            actor = find_user(by)
            if actor is None or not actor.is_staff or not actor.is_active:
                raise CommandError(f"--by {by}: no active staff account has this address.")
        else:
            by_label = f"os:{_os_user()}"
        who = f"{user} ({user.contact_label})"
        if not user.is_staff:
            self.stdout.write(f"Note: {who} is not staff; the admin is closed to them anyway.")
        if not yes and not self._confirmed(who):
            raise CommandError("Nothing was changed.")
        done = second_factor.reset(user, actor=actor, by=by_label)
        self.stdout.write(
            self.style.SUCCESS(
                f"Second factor of {who} reset by {actor.contact_label if actor else by_label}: "
                f"{done['authenticators']} authenticator app(s) and {done['backup_codes']} "
                f"unused backup code(s) deleted, {done['sessions']} session(s) ended. "
                "At the next admin sign-in they set up a new authenticator app."
            )
        )

    def _confirmed(self, who) -> bool:
        try:
            answer = input(
                f"Delete the second factor of {who} and end all their sessions? Type 'yes': "
            )
        except EOFError:
            return False
        return answer.strip().lower() == "yes"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
