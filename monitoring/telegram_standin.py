#!/usr/bin/env python3
"""Loopback stand-in of the Telegram Bot API for the local alert route (standard library only).

Alertmanager's own Telegram integration (`telegram_configs`, `api_url` pointed here) calls it as it
would call the real API: `POST /bot<token>/sendMessage` with chat_id, text and parse_mode (JSON;
form-encoded bodies and query strings are accepted too, as Telegram does). The stand-in answers as
Telegram does: 401 for a token other than the configured one, 400 for another chat, an empty or
too long text, or HTML that Telegram would not parse; otherwise `{"ok": true, "result": <the
message>}`. Every accepted message is appended to a JSON-lines file a person or test can read.
`getMe` answers with the bot; GET /healthz is the stand-in's own health check.

The token and chat id are read from files (never the command line, which `ps` and the platform's
logs show):

    python3 monitoring/telegram_standin.py --listen 127.0.0.1:9096 \\
        --token-file .vygoda/secrets/telegram-bot-token --chat-id-file .vygoda/secrets/telegram-chat-id \\
        --out .vygoda/monitoring/telegram.jsonl
"""

import argparse
import json
import re
import threading
import time
import urllib.parse
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
MAX_TEXT = 4096  # characters after entity parsing, Telegram's limit for sendMessage
# Tags Telegram's HTML parse mode accepts (Bot API, "Formatting options").
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
             "code", "pre", "blockquote", "tg-emoji"}
ROUTE = re.compile(r"^/bot([^/]+)/(\w+)$")


class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode: known tags only, properly nested; collects the visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open, self.text, self.error = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag not in HTML_TAGS:
            self.error = self.error or f"Unsupported start tag \"{tag}\""
        self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.error = self.error or f"Can't find end tag corresponding to start tag \"{tag}\""

    def handle_data(self, data):
        self.text.append(data)


def visible_text(text: str, parse_mode: str) -> tuple:
    """(the text a reader sees, None) or (None, Telegram's error description)."""
    if parse_mode.upper() != "HTML":
        return text, None
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if parser.open and not parser.error:
        parser.error = f"Can't find end tag corresponding to start tag \"{parser.open[-1]}\""
    if parser.error:
        return None, f"Bad Request: can't parse entities: {parser.error}"
    return "".join(parser.text), None


class StandIn:
    def __init__(self, token: str, chat_id: int, out_path: str):
        self.token, self.chat_id, self.out_path = token, chat_id, out_path
        self.lock = threading.Lock()
        self.next_id = 1
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "vygoda alerts (local stand-in)",
                    "username": "vygoda_alerts_bot"}

    def call(self, method: str, params: dict) -> tuple:
        """(HTTP status, Telegram's JSON answer) for one Bot API call."""
        if method == "getMe":
            return 200, {"ok": True, "result": self.bot}
        if method != "sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if str(params.get("chat_id", "")).strip() != str(self.chat_id):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        text = str(params.get("text") or "")
        parse_mode = str(params.get("parse_mode") or "")
        seen, error = visible_text(text, parse_mode)
        if error:
            return 400, {"ok": False, "error_code": 400, "description": error}
        if not seen.strip():
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
        if len(seen) > MAX_TEXT:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
        with self.lock:
            message_id, self.next_id = self.next_id, self.next_id + 1
            now = time.time()
            record = {"received_at": now, "message_id": message_id, "chat_id": self.chat_id,
                      "parse_mode": parse_mode, "text": text, "visible_text": seen}
            with open(self.out_path, "a", encoding="utf-8") as out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        message = {"message_id": message_id, "from": self.bot,
                   "chat": {"id": self.chat_id, "title": "vygoda alerts", "type": "supergroup"},
                   "date": int(now), "text": seen}
        return 200, {"ok": True, "result": message}


def params_of(handler: BaseHTTPRequestHandler) -> dict:
    """Parameters from the query string and a JSON or form-encoded body, as Telegram reads them."""
    query = urllib.parse.urlsplit(handler.path).query
    params = dict(urllib.parse.parse_qsl(query))
    length = int(handler.headers.get("Content-Length") or 0)
    if length > MAX_BODY:
        raise ValueError("body larger than 1 MiB")
    body = handler.rfile.read(length) if length > 0 else b""
    if body:
        kind = (handler.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind == "application/json":
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("JSON body is not an object")
            params.update(decoded)
        else:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8")))
    return params


def make_handler(standin: StandIn):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _bot_api(self):
            match = ROUTE.match(urllib.parse.urlsplit(self.path).path)
            if not match:
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            token, method = match.groups()
            if token != standin.token:
                self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            try:
                params = params_of(self)
            except (ValueError, UnicodeDecodeError) as error:
                self._answer(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"})
                return
            self._answer(*standin.call(method, params))

        def do_POST(self):  # noqa: N802 (http.server naming)
            self._bot_api()

        def do_GET(self):  # noqa: N802
            if self.path == "/healthz":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok\n")
                return
            self._bot_api()

        def log_message(self, *_args):
            # The JSON-lines file is the record; the URL path carries the token, so never log it.
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9096", help="host:port to listen on")
    parser.add_argument("--token-file", required=True, help="file holding the bot token to accept")
    parser.add_argument("--chat-id-file", required=True, help="file holding the one chat id that exists")
    parser.add_argument("--out", default="telegram.jsonl", help="JSON-lines file to append messages to")
    args = parser.parse_args()
    with open(args.token_file, encoding="utf-8") as f:
        token = f.read().strip()
    with open(args.chat_id_file, encoding="utf-8") as f:
        chat_id = int(f.read().strip())
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), make_handler(StandIn(token, chat_id, args.out)))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
