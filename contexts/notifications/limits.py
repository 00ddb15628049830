"""Limits on what an operator's message template may take while it renders: characters and steps.

Templates are written in the admin, and a few characters of Django template syntax can ask for a lot:
`{% lorem 20000 p %}` (megabytes), `{{ x|ljust:"50000000000" }}` (fifty gigabytes, allocated at once),
`|make_list|join:x` twelve times in a row (each pass multiplies the length), loops within loops that
print nothing and only spin. The message engines (contexts.notifications.rendering) compile with this
module as a builtin library, wrap every compiled template with `bounded`, and render it `within` a
Budget:

* each node rendered, and each turn of a `{% for %}` loop, is a step: at most `Budget.steps`;
* the nodes that produce text themselves (text, variables, tags without a body) produce at most
  `Budget.chars` characters in all;
* each built-in filter's result is at most `Budget.chars` long (a string's characters, a list's
  items); the filters whose argument sizes their result (`ljust`, `rjust`, `center`, `stringformat`,
  `floatformat`, `join`) and `{% lorem %}` are checked before the result is built, so no argument
  makes the process allocate more than a bounded multiple of the budget;
* `{% debug %}` is refused when the template compiles: it would print every value in the context (the
  customer's contact details among them) into a message.

Past a limit, rendering stops with RenderRefused, whose message says which.
"""

import contextlib
import contextvars
import functools
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.template import Library, Node, Template, TemplateSyntaxError, defaultfilters, defaulttags

# Enough for any message (a loop over a few hundred lines, each a few dozen nodes), and at most about
# a second of work for one that asks for more.
RENDER_STEPS = 100_000
# `{% lorem %}` is for trying a layout: a message needs no more words or paragraphs than this.
LOREM_MAX = 1_000


class RenderRefused(Exception):
    """A template asked for more than a message may take; the message says what."""


class Budget:
    """What one rendering of one part of a message may spend: `chars` characters, `steps` steps."""

    def __init__(self, *, chars: int, steps: int = RENDER_STEPS):
        self.chars, self.steps = chars, steps
        self._chars_left, self._steps_left = chars, steps

    def step(self, count: int = 1) -> None:
        self._steps_left -= count
        if self._steps_left < 0:
            raise RenderRefused(f"it takes more than {self.steps:,} steps to render (loops within loops?)")

    def spend(self, text: str) -> None:
        self._chars_left -= len(text)
        if self._chars_left < 0:
            raise RenderRefused(f"it renders more than {self.chars:,} characters")

    def allow(self, size: int, what: str) -> None:
        """Refuse `what`, of `size` characters (or items), if that is more than the whole budget."""
        if size > self.chars:
            raise RenderRefused(f"{what} is more than {self.chars:,} characters long")


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("message_budget", default=None)


@contextlib.contextmanager
def within(budget: Budget) -> Iterator[Budget]:
    """Render message templates spending `budget` (for the duration of the block)."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def _budget() -> Budget:
    budget = _current.get()
    if budget is None:
        raise RuntimeError("a message template renders within a Budget (limits.within)")
    return budget


# --- every node --------------------------------------------------------------------------------------


def bounded(template: Template) -> Template:
    """`template` (just compiled by a message engine) with every node spending the current Budget."""
    for node in template.nodelist.get_nodes_by_type(Node):
        produces = not any(getattr(node, name, None) for name in node.child_nodelists)
        node.render_annotated = functools.partial(_render_node, node.render_annotated, produces)
    return template


def _render_node(render: Callable[[Any], str], produces: bool, context) -> str:
    budget = _budget()
    budget.step()
    text = render(context)
    if produces:  # a node with a body returns what its children produced: counted there already
        budget.spend(text)
    return text


# --- tags --------------------------------------------------------------------------------------------

register = Library()


@register.tag("debug")
def _debug(parser, token):
    raise TemplateSyntaxError(
        "{% debug %} is not allowed in a message template: it would print every value in the context."
    )


class _Steps:
    """A `{% for %}` loop's sequence: each of its items is a step, counted before the loop starts."""

    def __init__(self, expression):
        self.expression = expression

    def resolve(self, context, ignore_failures=False):
        values = self.expression.resolve(context, ignore_failures=ignore_failures)
        if values is not None:
            budget = _budget()
            if not hasattr(values, "__len__"):
                values = list(itertools.islice(values, budget.steps + 1))
            budget.step(len(values))
        return values

    def __str__(self) -> str:
        return str(self.expression)


@register.tag("for")
def _for(parser, token):
    node = defaulttags.do_for(parser, token)
    node.sequence = _Steps(node.sequence)
    return node


class _LoremCount:
    def __init__(self, expression):
        self.expression = expression

    def resolve(self, context, ignore_failures=False):
        count = self.expression.resolve(context, ignore_failures=ignore_failures)
        if _number_over(str(count), LOREM_MAX):
            raise RenderRefused(f"{{% lorem %}} asks for more than {LOREM_MAX:,} words or paragraphs")
        return count


@register.tag("lorem")
def _lorem(parser, token):
    node = defaulttags.lorem(parser, token)
    node.count = _LoremCount(node.count)
    return node


# --- filters -----------------------------------------------------------------------------------------


def _number_over(text: str, limit: int) -> bool:
    """Whether `text` holds a run of digits worth more than `limit` (compared by length first)."""
    return any(
        len(digits.lstrip("0")) > len(str(limit)) or int(digits) > limit
        for digits in re.findall(r"[0-9]+", text)
    )


def _sized_by_argument(name: str, value: Any, *args: Any) -> None:
    budget = _budget()
    if name == "join":
        try:
            items = [str(item) for item in value]
        except TypeError:
            return  # not a list: the filter gives it back unchanged
        separator = len(str(args[0])) * max(len(items) - 1, 0) if args else 0
        budget.allow(sum(map(len, items)) + separator, "the result of |join")
    elif args and _number_over(str(args[0]), budget.chars):
        raise RenderRefused(f"|{name}:{str(args[0])[:20]} asks for more than {budget.chars:,} characters")


_SIZED_BY_ARGUMENT = frozenset({"ljust", "rjust", "center", "stringformat", "floatformat", "join"})


def _bounded_filter(name: str, function: Callable) -> Callable:
    @functools.wraps(function)  # keeps the flags (is_safe, needs_autoescape...) and the signature
    def bounded(value, *args, **kwargs):
        if name in _SIZED_BY_ARGUMENT:
            _sized_by_argument(name, value, *args)
        result = function(value, *args, **kwargs)
        if isinstance(result, str | list | tuple):
            _budget().allow(len(result), f"the result of |{name}")
        return result

    return bounded


for _name, _function in defaultfilters.register.filters.items():
    register.filter(_name, _bounded_filter(_name, _function))
