"""Deterministic, seeded event data for the fake Voilà server."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

FIRST_NAMES = [
    "Ada",
    "Zoë",
    "José",
    "Łukasz",
    "Siobhán",
    "Ngozi",
    "Håkon",
    "美咲",
    "Ананья",
    "Chloé",
    "O'Neil",
]
LAST_NAMES = [
    "Lovelace",
    "Müller",
    "Núñez",
    "Ødegaard",
    "佐藤",
    "Dubois",
    "Van der Berg",
    "Кузнецова",
    "Smith",
]
MESSAGES = [
    "Bonjour à tous ! 👋",
    "Great session, thanks 🙏",
    "Can you share the slides?",
    "音声が聞こえません",
    "Is the replay available later?",
    'Quote "this", comma, and a\nnew line',
    "¿Dónde está el enlace? 🔗",
    "👏👏👏",
]
QUESTIONS = [
    "How does pricing work for teams?",
    "Will there be a replay?",
    "Quelle est la date du prochain live ?",
    "次回のセッションはいつですか？",
    "Can we export the chat afterwards?",
]
DEVICES = [
    {"type": "desktop", "os": "macOS"},
    {"type": "mobile", "os": "iOS"},
    {"type": "tablet", "os": "Android"},
]
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
EPOCH = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)
# Large sessions repeat this many generated records, each with its own id.
TEMPLATE_RECORDS = 1000
ID_PLACEHOLDER = "@@record-id@@"
ID_PLACEHOLDER_BYTES = ID_PLACEHOLDER.encode()


def ksuid(rng: random.Random) -> str:
    """Return a KSUID-shaped id: 27 base62 characters."""
    return "".join(rng.choice(BASE62) for _ in range(27))


def timestamp(moment: datetime) -> str:
    """Format a UTC time as the API does, with milliseconds: ``2024-01-29T08:17:59.264Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class SessionSizes:
    """Number of records the fake server serves for one session, per dataset."""

    attendee_statistics: int = 25
    chat_messages: int = 60
    questions: int = 12


@dataclass
class EventData:
    """Programs, sessions and their records, generated from a seed so that every run gets the same data.

    :param programs: program id -> its session ids.
    :param sizes: default number of records per dataset; ``overrides`` sets it per session id.
    """

    seed: int = 7
    programs: dict[str, list[str]] = field(default_factory=lambda: {"prog-1": ["sess-1", "sess-2", "sess-3"]})
    sizes: SessionSizes = field(default_factory=SessionSizes)
    overrides: dict[str, SessionSizes] = field(default_factory=dict)

    def has_session(self, program_id: str, session_id: str) -> bool:
        return session_id in self.programs.get(program_id, [])

    def count(self, dataset: str, session_id: str) -> int:
        return int(getattr(self.overrides.get(session_id, self.sizes), dataset))

    def records(
        self, dataset: str, program_id: str, session_id: str, count: int | None = None
    ) -> list[dict[str, Any]]:
        """Return the records of one dataset of a session, the same on every call.

        :param count: number of records; the session's configured size by default.
        """
        count = self.count(dataset, session_id) if count is None else count
        rng = random.Random(f"{self.seed}/{program_id}/{session_id}/{dataset}")
        people = self._people(program_id, session_id)
        make = {"attendee_statistics": _attendee, "chat_messages": _message, "questions": _question}[dataset]
        return [make(rng, index, people) for index in range(count)]

    def body(self, dataset: str, program_id: str, session_id: str) -> bytes:
        """Return the JSON array body of one dataset of a session.

        Sessions of up to ``TEMPLATE_RECORDS`` records are generated record by record. Larger ones
        repeat that many generated records with a unique id each, so that a body of a million
        records takes about a second to build.
        """
        count = self.count(dataset, session_id)
        if count <= TEMPLATE_RECORDS:
            return orjson.dumps(self.records(dataset, program_id, session_id))
        id_field = "attendeeId" if dataset == "attendee_statistics" else "id"
        templates = [
            orjson.dumps({**record, id_field: ID_PLACEHOLDER})
            for record in self.records(dataset, program_id, session_id, TEMPLATE_RECORDS)
        ]
        parts = [
            templates[index % TEMPLATE_RECORDS].replace(ID_PLACEHOLDER_BYTES, b"%027d" % index)
            for index in range(count)
        ]
        return b"[" + b",".join(parts) + b"]"

    def _people(self, program_id: str, session_id: str) -> list[dict[str, str]]:
        rng = random.Random(f"{self.seed}/{program_id}/{session_id}/people")
        people = []
        for index in range(50):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            people.append(
                {
                    "attendeeId": ksuid(rng),
                    "firstName": first,
                    "lastName": last,
                    "email": f"attendee{index}@example.org",
                }
            )
        return people


def _attendee(rng: random.Random, index: int, people: list[dict[str, str]]) -> dict[str, Any]:
    person = people[index % len(people)]
    record: dict[str, Any] = {
        "attendeeId": person["attendeeId"] if index < len(people) else ksuid(rng),
        "firstName": person["firstName"],
        "lastName": person["lastName"],
        "email": f"viewer{index}@example.org",
        "watchedLive": rng.random() < 0.7,
        "watchedReplay": rng.random() < 0.4,
        "watchTimeSeconds": rng.randint(30, 5400),
        "firstSeenAt": timestamp(
            EPOCH + timedelta(seconds=rng.randint(0, 3600), milliseconds=rng.randint(0, 999))
        ),
        "device": dict(rng.choice(DEVICES)),
    }
    if rng.random() < 0.6:
        record["externalId"] = f"crm-{index:05d}"
    if rng.random() < 0.3:
        record["engagementScore"] = round(rng.uniform(0, 1), 3)
    # A field that appears only in later records, so that CSV headers must cover it.
    if index >= 20 and index % 5 == 0:
        record["utm"] = {"source": rng.choice(["newsletter", "linkedin"]), "campaign": "winter"}
    return record


def _message(rng: random.Random, index: int, people: list[dict[str, str]]) -> dict[str, Any]:
    person = rng.choice(people)
    record: dict[str, Any] = {
        "id": ksuid(rng),
        "attendeeId": person["attendeeId"],
        "authorName": f"{person['firstName']} {person['lastName']}",
        "text": rng.choice(MESSAGES),
        "createdAt": timestamp(EPOCH + timedelta(seconds=index, milliseconds=rng.randint(0, 999))),
    }
    if rng.random() < 0.2:
        record["reactions"] = [{"emoji": "❤️", "count": rng.randint(1, 9)}]
    if rng.random() < 0.1:
        record["replyTo"] = None
    return record


def _question(rng: random.Random, index: int, people: list[dict[str, str]]) -> dict[str, Any]:
    person = rng.choice(people)
    record: dict[str, Any] = {
        "id": ksuid(rng),
        "attendeeId": person["attendeeId"],
        "text": rng.choice(QUESTIONS),
        "createdAt": timestamp(EPOCH + timedelta(seconds=index * 30)),
        "upvotes": rng.randint(0, 40),
        "isAnswered": rng.random() < 0.5,
    }
    if record["isAnswered"]:
        record["answer"] = {"text": "Oui, bien sûr ✅", "answeredBy": "Host"}
    return record
