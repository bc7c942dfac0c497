"""Drafting the client notice: facts and rules in, a Markdown letter and its Word twin out.

The letter is a set of Jinja2 templates. A business may override any of them by putting a file of the same
name in its own directory (the `BREACHROOM_TEMPLATES` setting). Facts are inserted as plain text: whatever a
fact contains, it cannot add a heading, a list or emphasis to the letter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from types import TracebackType

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
)

from bot.notices.facts import CATEGORIES, Facts
from bot.notices.regimes import applicable, load_guidance, requirements, steps_for

PACKAGE_TEMPLATES = Path(__file__).with_name("templates")
LETTER = "notice.md.j2"
# The first line of a drill's notice, so that no copy of it can pass for a real letter.
EXERCISE = ("**EXERCISE, NOT A REAL NOTICE.** This letter was drafted during a breach drill, a practice incident. "
            "Do not send it to anyone.")
_PLACEHOLDER = re.compile(r"(?<!\\)\[TO CONFIRM: ([^\]]*)\]")


class NoticeTemplateError(TemplateError):
    """A notice template cannot be used; the message is one line naming the file and the line."""


class Markdown(str):
    """Text already in Markdown (template output, placeholders): inserted as is, not escaped."""

    __slots__ = ()


def to_confirm(what: str) -> Markdown:
    """The placeholder for a fact nobody has confirmed yet: `[TO CONFIRM: the company's phone number]`."""
    return Markdown(f"[TO CONFIRM: {' '.join(str(what).split())}]")


_INLINE_MARKUP = re.compile(r"([\\`*\[\]<>~|]|&(?=#?\w+;))")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# What would start a heading, a list or a heading underline if the text began a line.
_LINE_START_MARKUP = re.compile(r"^(?:([-+=#]+)(?=\s|$)|(\d+)(?=[.)](?:\s|$)))")


# A mail merge escapes the same facts in every letter: remembering them halves the time a letter takes.
@lru_cache(maxsize=4096)
def escape(text: str) -> Markdown:
    """`text` as one line of literal Markdown: `# 1 *sale*` stays those characters, not a heading."""
    line = " ".join(text.split())
    line = _INLINE_MARKUP.sub(r"\\\1", line)
    line = _LONE_UNDERSCORE.sub(r"\\_", line)
    line = _LINE_START_MARKUP.sub(lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m.group(2)}\\", line)
    return Markdown(line)


def long_date(value: date) -> str:
    """How a letter writes a date: `March 3, 2026` (the time of day is left out)."""
    day = value.date() if isinstance(value, datetime) else value
    return f"{day:%B} {day.day}, {day.year}"


def _finalize(value: object) -> str:
    if isinstance(value, Markdown):
        return value
    if value is None:
        # A template that prints a missing fact without a placeholder still must not print "None".
        return to_confirm("a fact that is not filled in")
    if isinstance(value, date):
        return long_date(value)
    return escape(str(value))


def _or_confirm(value: object, what: str) -> object:
    return to_confirm(what) if value is None or value == "" or value == [] else value


def _paragraphs(text: str | None) -> Markdown | None:
    if text is None:
        return None
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    return Markdown("\n\n".join(escape(b) for b in blocks))


def _oneline(text: str | None) -> str | None:
    """A multi-line postal address on one line: `1 Main St, Springfield`."""
    if text is None:
        return None
    return ", ".join(part.strip().rstrip(",") for part in text.splitlines() if part.strip())


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


@lru_cache(maxsize=8)
def _environment(templates_dir: str | None) -> Environment:
    loaders = [FileSystemLoader(str(PACKAGE_TEMPLATES))]
    if templates_dir is not None:
        loaders.insert(0, FileSystemLoader(templates_dir))
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,  # a misspelt name in a template is an error, not an empty gap in the letter
        autoescape=False,  # Markdown, not HTML: facts are escaped by _finalize instead
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["to_confirm"] = to_confirm
    env.filters.update(or_confirm=_or_confirm, paragraphs=_paragraphs, oneline=_oneline, long_date=long_date,
                       day=_day, count=lambda n: f"{n:,}", md=escape)
    return env


def _template_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost template file and line in a traceback (Jinja maps compiled frames back to templates)."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _context(facts: Facts, notice_date: date) -> dict[str, object]:
    guidance = load_guidance()
    involved = [guidance.categories[c] for c in CATEGORIES if facts.involves(c)]
    bureaus = guidance.credit_bureaus
    return {
        "facts": facts,
        "company": facts.company,
        "notice_date": notice_date,
        # One letter per client (mail merge) fills these in; the war room's draft is addressed to no one.
        "recipient": None,
        "recipient_name": None,
        "involved": involved,
        "advice": [{"label": a.label, "steps": steps_for(a, facts)} for a in involved if steps_for(a, facts)],
        "always": [s.text for s in guidance.always if s.when is None or s.when.matches(facts)],
        "credit_bureaus": bureaus.bureaus if bureaus.when.matches(facts) else [],
        "needs": requirements(facts),
        "regimes": applicable(facts),
        "regions_known": bool(facts.affected_by_region),
    }


@contextmanager
def _template_errors() -> Iterator[None]:
    """Turn whatever a broken template raises into one NoticeTemplateError naming its file and line."""
    try:
        yield
    except TemplateSyntaxError as exc:
        raise NoticeTemplateError(f"{exc.filename or exc.name}, line {exc.lineno}: {exc.message}") from None
    except NoticeTemplateError:
        raise
    except (TemplateError, TypeError, ValueError, LookupError, AttributeError, ArithmeticError) as exc:
        where = _template_frame(exc.__traceback__)
        if where is None and not isinstance(exc, TemplateError):
            raise
        place = f"{where[0]}, line {where[1]}: " if where else ""
        raise NoticeTemplateError(f"{place}{' '.join(str(exc).split()) or type(exc).__name__}") from None


Recipient = Mapping[str, str]


def letter_renderer(facts: Facts, *, notice_date: date,
                    templates_dir: Path | str | None = None) -> Callable[[Recipient | None], str]:
    """A function that writes the letter for one recipient; the facts are worked out once, not per letter.

    The recipient is one row of a client list (`{"name": "Zoë Ångström", "email": …, "account": …}`); the
    templates see it as `recipient` and its name as `recipient_name` (both None for the war room's draft, so
    an override that prints a client column must guard it with `{% if recipient %}`).
    Raises NoticeTemplateError (naming the template file and line) when a template cannot be used.
    """
    if templates_dir is not None and not Path(templates_dir).is_dir():
        raise NoticeTemplateError(f"the templates directory {templates_dir} does not exist or is not a directory")
    env = _environment(None if templates_dir is None else str(Path(templates_dir).resolve()))
    with _template_errors():
        template = env.get_template(LETTER)
    base = _context(facts, notice_date)

    def render(recipient: Recipient | None = None) -> str:
        context = base
        if recipient is not None:
            name = (recipient.get("name") or "").strip()
            context = {**base, "recipient": recipient, "recipient_name": name or None}
        with _template_errors():
            text = template.render(context)
        return _tidy(text)

    return render


def render_markdown(facts: Facts, *, notice_date: date, templates_dir: Path | str | None = None,
                    recipient: Recipient | None = None) -> str:
    """The notice as Markdown. Example: `render_markdown(load_facts("facts.json"), notice_date=date.today())`.

    With `recipient` (one client's row), the letter is addressed to that client ("Dear Zoë Ångström,").
    Raises NoticeTemplateError (naming the template file and line) when a template cannot be used.
    """
    return letter_renderer(facts, notice_date=notice_date, templates_dir=templates_dir)(recipient)


def _tidy(text: str) -> str:
    """Trailing spaces off, a blank line before each heading, never two blank lines in a row."""
    lines = [line.rstrip() for line in text.splitlines()]
    text = re.sub(r"\n(#{1,3} )", r"\n\n\1", "\n".join(lines))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def render_docx(facts: Facts, *, notice_date: date, templates_dir: Path | str | None = None) -> bytes:
    """The same notice as a Word document (.docx bytes), converted from the Markdown draft."""
    from bot.notices.word import markdown_to_docx  # python-docx is loaded when a letter is first made

    return markdown_to_docx(render_markdown(facts, notice_date=notice_date, templates_dir=templates_dir))


def as_exercise(markdown: str) -> str:
    """A drill's notice: the same letter, with a first line saying it is an exercise (the .docx follows it)."""
    return markdown if markdown.startswith(EXERCISE) else f"{EXERCISE}\n\n{markdown}"


def placeholders(markdown: str) -> list[str]:
    """The `[TO CONFIRM: …]` texts of a rendered draft, first occurrence first."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(markdown)))


def missing_facts(facts: Facts, *, templates_dir: Path | str | None = None) -> list[str]:
    """What the draft still asks the business to confirm, e.g. `["the company's phone number"]`."""
    return placeholders(render_markdown(facts, notice_date=date.today(), templates_dir=templates_dir))
