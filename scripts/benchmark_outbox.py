"""Outbox delivery speed: N mails through real Celery workers to an SMTP server on loopback,
against a floor measured in the same run (the same mails sent by bare smtplib over one
connection, no database).

    DJANGO_ENV_FILE=none DJANGO_DEBUG=false ... DATABASE_URL=postgres://.../pp_bench \\
        CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python scripts/benchmark_outbox.py --mails 20000 --workers 2

The database must be disposable: the outbox table is emptied first. Needs the development
requirements (aiosmtpd).
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from smtplib import SMTP

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "tests"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyportal.settings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--database-is-disposable", action="store_true", required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from smtp_standin import SmtpStandIn

    from notifications.models import Notification
    from privacyportal.celery import app

    smtp = SmtpStandIn().start()

    # The floor: the same mails over one SMTP connection, by bare smtplib.
    started = time.perf_counter()
    with SMTP("127.0.0.1", smtp.port) as client:
        for i in range(args.mails):
            message = EmailMessage()
            message["From"], message["To"] = settings.DEFAULT_FROM_EMAIL, f"p{i}@example.com"
            message["Subject"], message["Message-ID"] = f"Message {i}", f"<floor{i}@example.com>"
            message.set_content("Body")
            client.send_message(message)
    floor = time.perf_counter() - started
    received_floor = smtp.handler.received()

    Notification.objects.all().delete()
    Notification.objects.bulk_create(
        [
            Notification(
                key=f"bench:{i}", to_email=f"p{i}@example.com", subject=f"Message {i}", body="Body"
            )
            for i in range(args.mails)
        ],
        batch_size=2000,
    )
    queue = f"bench-{uuid.uuid4().hex}"
    env = {**os.environ, "EMAIL_URL": smtp.url, "CELERY_TASK_DEFAULT_QUEUE": queue}
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "privacyportal",
            "worker",
            f"--concurrency={args.workers}",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    try:
        time.sleep(3)  # the worker's start-up is not part of the delivery
        started = time.perf_counter()
        app.send_task("notifications.tasks.deliver_notifications", queue=queue)
        while Notification.objects.exclude(status=Notification.Status.SENT).exists():
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        smtp.stop()
    received = smtp.handler.received() - received_floor
    print(f"{args.mails:,} mails, {args.workers} worker processes")
    print("| case | seconds | mails/s |\n|---|---:|---:|")
    print(f"| bare smtplib, one connection (floor) | {floor:.1f} | {args.mails / floor:,.0f} |")
    print(f"| outbox through Celery | {elapsed:.1f} | {args.mails / elapsed:,.0f} |")
    print(f"ratio to the floor: {elapsed / floor:.1f}; mails received: {received:,}")
    Notification.objects.all().delete()


if __name__ == "__main__":
    main()
