"""The Slack bot: @mentions, direct messages and /kb, answered with cited blocks and 👍/👎 buttons.

Slack wants every request acknowledged within 3 seconds, and an answer can take longer, so each listener
acks at once and answers from a lazy listener (a worker thread); `process_before_response=True` makes
Bolt finish the ack before replying to the HTTP request, which is what an ASGI server needs.
Slack resends an event it believes was missed (X-Slack-Retry-Num); a resend is recognised by its
event_id and acked without a second answer.

Every byte is hostile until verified: the route reads at most `slack_max_body_bytes`, then checks
the timestamp and signature headers (401 for anything malformed, stale or wrong) before Bolt parses
a thing. No request waits on Slack's API: the bot's identity comes from one `auth.test` in a
background thread at start-up (logged), and Bolt's authorize step reads that instead of calling Slack.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from slack_bolt import Ack, App, BoltResponse, Respond
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from starlette.responses import Response

from bot.chain import Bot
from core.errors import KBError, QuestionError
from core.settings import Settings
from ui.feedback import FeedbackStore, Vote
from ui.limits import read_limited
from ui.render import slack_escape, slack_fallback_text, to_slack_blocks

log = logging.getLogger(__name__)

COMMAND = "/kb"
NOT_CONFIGURED = "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"
USAGE = f"Ask me a serverless architecture question, for example: `{COMMAND} How do I reduce Lambda cold starts?`"
UNAVAILABLE = "Sorry, I can't answer right now: the knowledge base is unavailable. Please try again later."
FAILED = "Sorry, something went wrong while answering. Please try again in a minute."
THANKS = "Thanks for the feedback!"
VOTE_ACTION = re.compile(r"^kb_vote_(up|down)$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
MAX_CLOCK_SKEW = 300  # seconds; Slack's own recommendation for refusing replays
# <@U123>, <@U123|name>, <!here>, <#C123|general>, <https://x|label>: Slack's markup in incoming text.
_SLACK_MARKUP = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def question_text(text: str) -> str:
    """The question in a Slack message: mentions dropped, links and channels as text, entities decoded."""

    def plain(match: re.Match[str]) -> str:
        target, name = match.group(1), match.group(2)
        if target.startswith(("@", "!")):
            return ""
        if target.startswith("#"):
            return f"#{name or target[1:]}"
        return name or target

    text = _SLACK_MARKUP.sub(plain, text)
    # Slack escapes exactly these three; &amp; last so "&amp;lt;" stays "&lt;".
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


class RecentIds:
    """A bounded, thread-safe set of recently seen ids; the oldest are forgotten first."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._ids:
                self._ids.move_to_end(key)
                return False
            self._ids[key] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True


def _is_user_message(event: dict[str, Any]) -> bool:
    # Edits, joins and bot posts (ours or another bot's) carry a subtype or bot_id; answering them could loop.
    return not event.get("subtype") and not event.get("bot_id")


class SlackAnswers:
    """The listeners: each Bolt argument is injected by parameter name."""

    def __init__(self, bot: Bot, feedback: FeedbackStore, concurrency: int) -> None:
        self.bot = bot
        self.feedback = feedback
        # The same cap as the API: answers are CPU-bound, so more at once only makes each slower.
        self._slots = threading.BoundedSemaphore(concurrency)
        self.events = RecentIds()
        self.messages = RecentIds()

    # -- global middleware ---------------------------------------------------------------------
    def skip_retries(self, body: dict[str, Any], next_: Callable[[], None]) -> BoltResponse | None:
        """Ack a resent event without answering it again; runs after the signature check."""
        event_id = body.get("event_id")
        if event_id and not self.events.first_time(str(event_id)):
            log.info("Slack resent event %s; already answering it", event_id)
            return BoltResponse(status=200, body="")
        next_()
        return None

    # -- answering -----------------------------------------------------------------------------
    def answer(self, question: str, history: Sequence[str] = ()) -> tuple[str, list[dict[str, Any]]]:
        """Fallback text and blocks; errors become a short message, never a traceback."""
        try:
            with self._slots:
                answer = self.bot.ask(question, history=history)
        except QuestionError as exc:
            return slack_escape(f"Sorry, I can't answer that: {exc}"), []
        except KBError:
            log.exception("the knowledge base failed to answer a Slack question")
            return UNAVAILABLE, []
        except Exception:
            log.exception("answering a Slack question failed")
            return FAILED, []
        feedback_id = self.feedback.record(answer, "slack")
        return slack_fallback_text(answer), to_slack_blocks(answer, feedback_id)

    def answer_mention(self, event: dict[str, Any], client: WebClient) -> None:
        if _is_user_message(event):
            self._reply_in_thread(event, client)

    def answer_dm(self, event: dict[str, Any], client: WebClient) -> None:
        # Every message event reaches this listener (so each is acked); only a person's DM is answered.
        if event.get("channel_type") == "im" and _is_user_message(event):
            self._reply_in_thread(event, client)

    def _reply_in_thread(self, event: dict[str, Any], client: WebClient) -> None:
        channel, ts = event["channel"], event["ts"]
        # A mention inside a DM arrives twice (app_mention and message.im) with different event_ids.
        if not self.messages.first_time(f"{channel}:{ts}"):
            return
        thread_ts = event.get("thread_ts") or ts
        history = self._thread_history(client, channel, thread_ts, ts) if event.get("thread_ts") else []
        text, blocks = self.answer(question_text(event.get("text", "")), history)
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks or None)
        except SlackApiError as exc:
            log.error("could not post the answer in %s: %s", channel, exc.response.get("error"))

    def _thread_history(self, client: WebClient, channel: str, thread_ts: str, ts: str) -> list[str]:
        """Earlier questions in the thread, so a follow-up like "and on Azure?" keeps its topic."""
        try:
            replies = client.conversations_replies(channel=channel, ts=thread_ts, limit=20)
        except SlackApiError as exc:
            # Usually a missing *:history scope: answer the question on its own.
            log.info("no thread history for %s: %s", channel, exc.response.get("error"))
            return []
        messages = replies.get("messages") or []
        earlier = [m for m in messages if _is_user_message(m) and float(m.get("ts", 0)) < float(ts)]
        return [question_text(m.get("text", "")) for m in earlier][-3:]

    # -- /kb ---------------------------------------------------------------------------------
    @staticmethod
    def ack_command(ack: Ack, command: dict[str, Any]) -> None:
        # An empty /kb gets the usage hint as the (private) acknowledgement itself.
        if question_text(command.get("text", "")):
            ack()
        else:
            ack(USAGE)

    def answer_command(self, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        question = question_text(command.get("text", ""))
        if not question:
            return
        text, blocks = self.answer(question)
        # Others in the channel never see the slash command itself, so the answer says what was asked.
        asked = {"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<@{command['user_id']}> asked: {slack_escape(question)}"[:3000]}]}
        try:
            client.chat_postMessage(channel=command["channel_id"], text=text, blocks=[asked, *blocks])
        except SlackApiError as exc:
            # e.g. not_in_channel: the bot was never invited there, but the command's response_url works.
            log.info("posting to %s failed (%s); using the response_url", command["channel_id"],
                     exc.response.get("error"))
            respond(text=text, blocks=[asked, *blocks], response_type="in_channel")

    # -- 👍 / 👎 ---------------------------------------------------------------------------------
    def ack_vote(self, ack: Ack, action: dict[str, Any]) -> None:
        # A local SQLite write takes milliseconds, so it is stored before the ack, not left to a thread.
        kind, _, item_id = str(action.get("value", "")).partition(":")
        if kind in ("up", "down") and item_id:
            vote: Vote = "up" if kind == "up" else "down"
            if not self.feedback.vote(item_id, vote):
                log.warning("vote for unknown Slack answer %s", item_id)
        else:
            log.warning("malformed vote value %r", action.get("value"))
        ack()

    @staticmethod
    def thank_voter(body: dict[str, Any], client: WebClient) -> None:
        channel, user = (body.get("channel") or {}).get("id"), (body.get("user") or {}).get("id")
        if not channel or not user:
            return
        thread_ts = (body.get("message") or {}).get("thread_ts")
        try:
            client.chat_postEphemeral(channel=channel, user=user, text=THANKS, thread_ts=thread_ts)
        except SlackApiError as exc:
            log.info("could not thank the voter: %s", exc.response.get("error"))


class SlackIdentity:
    """Who the bot is in Slack, learnt once by `auth.test` off the request path."""

    def __init__(self, client: WebClient, token: str) -> None:
        self.client = client
        self.token = token
        self.user_id: str | None = None
        self.bot_id: str | None = None
        self.checked = threading.Event()

    def check_in_background(self) -> None:
        threading.Thread(target=self._check, name="kb-slack-auth-test", daemon=True).start()

    def _check(self) -> None:
        try:
            found = self.client.auth_test(token=self.token)
            self.user_id, self.bot_id = found.get("user_id"), found.get("bot_id")
            log.warning("Slack token ok: bot %s in team %s", self.user_id, found.get("team_id"))
        except Exception as exc:  # no route, a slow API, a revoked token: the server still starts
            log.warning("Slack token check (auth.test) failed: %s; answers will be posted with it anyway", exc)
        finally:
            self.checked.set()

    def authorizer(self) -> Callable[..., AuthorizeResult]:
        # A plain function: Bolt injects arguments by parameter name, and would pass `self` twice.
        def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=self.token,
                                   bot_user_id=self.user_id, bot_id=self.bot_id)

        return authorize


def _ack(ack: Ack) -> None:
    ack()


def build_slack_app(bot: Bot, feedback: FeedbackStore, settings: Settings,
                    client: WebClient | None = None) -> App | None:
    """The Bolt app, or None when the token or signing secret is missing (the route then answers 503)."""
    if not settings.slack.bot_token or not settings.slack.signing_secret:
        return None
    client = client or WebClient(timeout=10)
    identity = SlackIdentity(client, settings.slack.bot_token)
    identity.check_in_background()
    app = App(
        name="serverless-kb",
        signing_secret=settings.slack.signing_secret,
        client=client,
        authorize=identity.authorizer(),
        process_before_response=True,
    )
    answers = SlackAnswers(bot, feedback, settings.serve.concurrency)
    app.middleware(answers.skip_retries)
    app.event("app_mention")(ack=_ack, lazy=[answers.answer_mention])
    app.event("message")(ack=_ack, lazy=[answers.answer_dm])
    app.command(COMMAND)(ack=answers.ack_command, lazy=[answers.answer_command])
    app.action(VOTE_ACTION)(ack=answers.ack_vote, lazy=[answers.thank_voter])
    return app


def unverified(headers: Any, body: bytes, verifier: SignatureVerifier, now: float | None = None) -> str:
    """Why a request is not provably from Slack, or "" if it is; checked before any parsing."""
    stamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not stamp.isdigit() or len(stamp) > 12:
        return "X-Slack-Request-Timestamp is missing or not a number of seconds"
    if abs((now or time.time()) - int(stamp)) > MAX_CLOCK_SKEW:
        return "X-Slack-Request-Timestamp is more than 5 minutes from now (a replay?)"
    if not _SIGNATURE.match(signature):
        return "X-Slack-Signature is missing or not of the form v0=<64 hex digits>"
    if not verifier.is_valid(body, stamp, signature):
        return "X-Slack-Signature does not match the body (wrong SLACK_SIGNING_SECRET?)"
    return ""


def slack_router(slack_app: App | None, settings: Settings) -> APIRouter:
    """POST /slack/events for events, slash commands and button clicks (one Request URL for all three)."""
    router = APIRouter(prefix="/slack", tags=["slack"])
    verifier = SignatureVerifier(settings.slack.signing_secret) if settings.slack.signing_secret else None

    @router.post("/events", response_model=None)
    async def events(request: Request) -> Response:
        if slack_app is None or verifier is None:
            return JSONResponse({"error": NOT_CONFIGURED}, status_code=503)
        body = await read_limited(request, settings.slack.max_body_bytes)
        if body is None:
            return JSONResponse({"error": f"body over the {settings.slack.max_body_bytes:,}-byte limit"},
                                status_code=413)
        problem = unverified(request.headers, body, verifier)
        if problem:
            return JSONResponse({"error": problem}, status_code=401)
        # App.dispatch is synchronous (its own signature check, the acks), so it runs in a thread
        # instead of stalling the event loop the web UI shares.
        try:
            response = await asyncio.to_thread(slack_app.dispatch, to_bolt_request(request, body))
        except Exception:  # a signed but malformed payload
            log.exception("Slack sent a payload Bolt could not read")
            return JSONResponse({"error": "malformed Slack payload"}, status_code=400)
        return to_starlette_response(response)

    return router
