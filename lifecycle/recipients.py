"""Erasure at the recipients (PIPL art. 47): every third party that received an erased category
is told to erase it too, and acknowledges.

``notify(record, user_ids, categories)`` is called inside the transaction of every erasure
(account deletion, deletion request, retention rule) with the erasure record, the account
numbers concerned (possibly empty when a rule's rows name nobody) and the categories erased.
"""


def notify(record, user_ids, categories) -> int:
    """Create the notices for this erasure; returns how many. (To be built.)"""
    return 0


def escalate_overdue(now=None) -> int:
    """Alert the DPO group once per notice not acknowledged in time. (To be built.)"""
    return 0
