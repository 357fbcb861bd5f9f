"""A small OpenAI-compatible chat server on 127.0.0.1 for tests (http.server in a thread)."""
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONVERSE = {"more dangerous": "less dangerous", "bigger": "smaller", "older": "younger", "faster": "slower",
            "heavier": "lighter", "more expensive": "less expensive", "taller": "shorter", "stronger": "weaker",
            "louder": "quieter", "warmer": "colder"}
CONVERSE.update({v: k for k, v in list(CONVERSE.items())})
FACT = re.compile(r"^(\w+) are (.+) than (\w+)\.$")


def reverse(sentence):
    a, rel, b = FACT.match(sentence).groups()
    return f"{b} are {CONVERSE[rel]} than {a}."


class FakeServer:
    """Answers /v1/chat/completions like a model that knows how to reverse a comparison."""

    def __init__(self):
        self.requests = []
        self.fail_first = 0          # answer this many requests with HTTP 503 first
        self.status = None           # answer every request with this HTTP status
        self.delay = 0.0
        self.raw = None              # answer with these bytes instead of a completion
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    failing = server.fail_first > 0
                    server.fail_first -= failing
                self.counted = True
                try:
                    time.sleep(server.delay)
                    status = 503 if failing else server.status
                    if status:
                        self._send(status, b'{"error": "busy"}')
                    elif server.raw is not None:
                        self._send(200, server.raw)
                    else:
                        content = server.answer(body["messages"][-1]["content"])
                        self._send(200, json.dumps({"choices": [{"message": {"role": "assistant",
                                                                              "content": content}}]}).encode())
                finally:
                    self._leave()

            def _leave(self):
                # Leaves the in-flight count before the response is written: once the client has the
                # reply it may send its next request, which must not find this one still counted.
                if getattr(self, "counted", False):
                    self.counted = False
                    with server.lock:
                        server.in_flight -= 1

            def _send(self, status, payload):
                self._leave()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def answer(prompt):
        text = prompt.split("Text: ")[-1].split("\nInferences:")[0].strip()
        if FACT.match(text):
            rev = reverse(text)
            # a heading, a bullet list, an exact duplicate, a case variant and a copy of the source
            return f"Inferences:\n- {rev}\n2. {rev}\n* {rev.upper()[0] + rev[1:]}\n- {text}\n"
        return "nothing follows"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


