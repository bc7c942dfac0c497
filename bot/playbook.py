"""The checklist as data: sections of items, read from YAML so a business can bring its own."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yml")
_KEY = r"^[a-z0-9][a-z0-9-]{0,39}$"


class PlaybookError(ValueError):
    """The playbook file is missing or not of the expected shape."""


class Item(BaseModel):
    key: str = Field(pattern=_KEY)
    label: str = Field(min_length=1, max_length=200)
    # Said in the client notice's "What We Are Doing" once this step is done (first person plural).
    notice: str | None = Field(default=None, max_length=500)
    # An event that marks the step done by itself: `notice-approved` (approving the client notice).
    done_when: Literal["notice-approved"] | None = None


class Section(BaseModel):
    key: str = Field(pattern=_KEY)
    title: str = Field(min_length=1, max_length=60)
    hint: str = ""
    # At most 20 steps of 200 characters: one section always fits in one chat message.
    items: list[Item] = Field(min_length=1, max_length=20)


class Playbook(BaseModel):
    sections: list[Section] = Field(min_length=1)

    @field_validator("sections")
    @classmethod
    def _unique_sections(cls, sections: list[Section]) -> list[Section]:
        keys = [s.key for s in sections]
        if len(set(keys)) != len(keys):
            raise ValueError("two sections share a key")
        return sections

    @model_validator(mode="after")
    def _unique_items(self) -> Playbook:
        keys = [i.key for s in self.sections for i in s.items]
        if len(set(keys)) != len(keys):
            raise ValueError("two items share a key")
        return self

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


@cache
def load_playbook(path: Path = DEFAULT_PLAYBOOK) -> Playbook:
    """Read and check a playbook; the error names the file and the first problem in one line."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return Playbook.model_validate(data)
    except OSError as exc:
        raise PlaybookError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PlaybookError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise PlaybookError(f"{path}: {where}: {first['msg']}") from None
