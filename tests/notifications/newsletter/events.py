"""The test's marketing event."""

import uuid
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class NewsletterPublished:
    EVENT_TYPE: ClassVar[str] = "newsletter.NewsletterPublished.v1"

    user_id: uuid.UUID
    issue: str
