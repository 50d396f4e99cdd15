"""Engine of bulk attendee registration: input parsing, the resume ledger and the request pool."""

from __future__ import annotations
