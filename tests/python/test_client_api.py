"""The CLIENT API as a person uses it, on the live platform: shop-api publishes, vygoda-admin bans
and unbans, the ban filter and the store sink (started here if not running) carry products into
the store, and the CLIENT API answers. Every request is then found twice: in the store's
`requests` table and, decoded by an independent Avro reader (confluent-kafka), in `client-events`.

One scenario, two backends: each test runs against the `client-api` command line and against
`client-api serve`, the platform's HTTPS service (mutual TLS with the platform CA).

Run: `.vygoda/venv/bin/python -m pytest tests/python/test_client_api.py` (after `make up`; the
recommendation test needs a finished `make demo`, which `make test` runs first).
"""
import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import requests
from platform_facts import facts
from polling import wait_for

REPO = Path(__file__).resolve().parents[2]
VYGODA = REPO / ".vygoda"
BIN = REPO / "target" / "debug"
BAN_FILTER_METRICS = "http://127.0.0.1:9101/metrics"
API_URL = "https://127.0.0.1:18443"
sys.path.insert(0, str(REPO / "platform"))
from vyplat import services as platform_services  # noqa: E402

pytestmark = pytest.mark.usefixtures("platform")


def run(argv: list, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], cwd=REPO, capture_output=True, text=True, timeout=180)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return done


def client_api(*args, check: bool = True, extra: tuple = ()) -> tuple:
    """(exit code, the JSON answer) of one `client-api --json` call."""
    done = run([BIN / "client-api", "--json", *extra, *args], check=False)
    if check and done.returncode not in (0, 4):
        raise AssertionError(f"client-api {args} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else None)


CA = str(VYGODA / "tls" / "ca.pem")


def caller() -> tuple:
    """A caller with a certificate of the platform CA (the service refuses any other). Passed with
    each request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's `verify`."""
    operator = facts()["principals"]["operator"]
    return operator["cert"], operator["key"]


class Cli:
    """Asks through the `client-api` command line."""

    def product(self, pid: str, user: str = "") -> dict:
        code, answer = client_api("product", pid, *(("--user", user) if user else ()))
        assert (code == 0) == answer["found"], (code, answer)
        return answer

    def search(self, text: str, user: str = "", **filters) -> dict:
        flags = [x for k, v in filters.items() for x in (f"--{k.replace('_', '-')}", str(v))]
        return client_api("search", text, *flags, *(("--user", user) if user else ()))[1]

    def recommend(self, user: str, limit: int = 10) -> dict:
        return client_api("recommend", "--user", user, "--limit", str(limit))[1]


class Https:
    """Asks the platform's `client-api serve` over HTTPS."""

    def __init__(self, url: str = API_URL):
        self.url, self.http = url, requests.Session()

    def get(self, path: str, **params) -> requests.Response:
        return self.http.get(f"{self.url}{path}", params={k: v for k, v in params.items() if v != ""},
                             verify=CA, cert=caller(), timeout=30)

    def product(self, pid: str, user: str = "") -> dict:
        r = self.get(f"/v1/products/{pid}", user=user)
        assert r.status_code in (200, 404), r.text
        assert (r.status_code == 200) == r.json()["found"], (r.status_code, r.text)
        return r.json()

    def search(self, text: str, user: str = "", **filters) -> dict:
        r = self.get("/v1/search", q=text, user=user, **filters)
        assert r.status_code == 200, r.text
        return r.json()

    def recommend(self, user: str, limit: int = 10) -> dict:
        r = self.get(f"/v1/users/{user}/recommendations", limit=limit)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(params=["cli", "https"])
def api(request):
    return Cli() if request.param == "cli" else Https()


def publish(product_id: str, name: str, brand: str, category: str = "Электроника", price: str = "1990.00"):
    run([BIN / "shop-api", "publish-one", "--product-id", product_id, "--name", name, "--brand", brand,
         "--category", category, "--price", price, "--stock-available", "5", "--store-id", "test-shop",
         "--progress", "never"])


def ban(kind: str, value: str):
    run([BIN / "vygoda-admin", "ban", "add", kind, value, "--reason", "test_client_api"])


def unban(kind: str, value: str):
    run([BIN / "vygoda-admin", "ban", "remove", kind, value])


def banned_by_id() -> float:
    with urllib.request.urlopen(BAN_FILTER_METRICS, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('vygoda_ban_filter_banned_total{kind="product_id"}'):
                return float(line.split()[-1])
    return 0.0


def found(api, product_id: str) -> bool:
    return api.product(product_id)["found"]


def search_ids(api, text: str, **filters) -> list:
    return [h["product_id"] for h in api.search(text, limit=50, **filters)["results"]]


def sql(query: str) -> list:
    done = run(["psql", facts()["store_url"], "-AtX", "-c", query])
    return [line for line in done.stdout.splitlines() if line]


@pytest.fixture(scope="module", autouse=True)
def services():
    """The ban filter and the store sink running (the others too); stopped after if started here."""
    ctl = [sys.executable, str(REPO / "platform" / "ctl.py")]
    before = (VYGODA / "run" / "svc-store-sink.pid").exists()
    subprocess.run([*ctl, "services", "start"], check=True, cwd=REPO)
    yield
    if not before:
        subprocess.run([*ctl, "services", "stop"], check=True, cwd=REPO)


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:10]


def test_a_published_product_is_found_by_id_and_by_russian_word_forms(api, tag):
    pid, brand = f"test-{tag}-123", f"Марка{tag}"
    publish(pid, f"Умные часы {tag}", brand)
    wait_for(f"product {pid}", lambda: found(api, pid), 60)
    # Morphology: "часов" (genitive plural) finds "часы"; a typo finds it through trigrams.
    assert pid in search_ids(api, "часов", brand=brand)
    assert pid in search_ids(api, f"умные чсы {tag}")
    assert search_ids(api, "часов", brand=brand, max_price="100") == []


def test_a_banned_product_is_not_found_until_it_is_unbanned(api, tag):
    pid, brand = f"test-{tag}-234", f"Бренд{tag}"
    ban("product-id", pid)
    try:
        before = banned_by_id()
        publish(pid, f"Кофеварка {tag}", brand)
        wait_for("the ban filter holding the product back", lambda: banned_by_id() >= before + 1, 60)
        assert api.product(pid) == {"found": False, "product_id": pid}
        assert pid not in search_ids(api, f"кофеварка {tag}")
    finally:
        unban("product-id", pid)
    publish(pid, f"Кофеварка {tag}", brand)
    wait_for(f"{pid} found after the unban", lambda: found(api, pid), 60)
    assert pid in search_ids(api, f"кофеварка {tag}")


def test_banning_a_brand_removes_its_earlier_products_from_search(api, tag):
    brand = f"Запрет{tag}"
    ids = [f"test-{tag}-{n}" for n in (1, 2)]
    for pid in ids:
        publish(pid, f"Чайник {tag} {pid[-1]}", brand)
    wait_for("both products searchable", lambda: sorted(search_ids(api, "чайник", brand=brand)) == ids, 60)
    ban("brand", brand)
    try:
        wait_for("the brand's products gone from search", lambda: search_ids(api, "чайник", brand=brand) == [], 60)
        assert not any(found(api, pid) for pid in ids)
    finally:
        unban("brand", brand)


def read_topic(topic: str, key: str | None = None) -> list:
    """Every record of `topic` on prod (only those keyed `key`, when given), decoded through the
    registry. Records are keyed by user: filtering on the key before decoding keeps this fast."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    platform = facts()
    operator = platform["principals"]["operator"]
    registry = SchemaRegistryClient({"url": platform["schema_registry"]["url"],
                                     "ssl.ca.location": platform["schema_registry"]["ca"],
                                     "ssl.certificate.location": operator["cert"],
                                     "ssl.key.location": operator["key"]})
    decode = AvroDeserializer(registry)
    ctx = SerializationContext(topic, MessageField.VALUE)
    consumer = Consumer({"bootstrap.servers": platform["clusters"]["prod"]["bootstrap"], **operator["kafka"],
                         "group.id": "operator-test", "enable.auto.commit": False, "log_level": 2})
    try:
        meta = consumer.list_topics(topic, timeout=30)
        highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                 for p in meta.topics[topic].partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p, h in highs.items() if h > 0])
        left, out = {p for p, h in highs.items() if h > 0}, []
        deadline = time.monotonic() + 120
        while left and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            if msg.offset() + 1 >= highs[msg.partition()]:
                left.discard(msg.partition())
            if msg.value() is not None and (key is None or msg.key() == key.encode()):
                out.append(decode(msg.value(), ctx))
        assert not left, f"{topic} partitions {left} not read to their end"
        return out
    finally:
        consumer.close()


def sent(user: str) -> bool:
    """Every recorded event of `user` acknowledged by the brokers."""
    return sql(f"SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FROM event_outbox "
               f"WHERE user_id = '{user}'")[0].split("|")[0] == "0"


def test_each_request_is_in_client_events_and_in_the_requests_table(api, tag):
    user = f"test-user-{tag}"
    pid, missing = f"test-{tag}-view", f"test-{tag}-missing"
    publish(pid, f"Пылесос {tag}", f"Марка{tag}")
    wait_for(f"{pid} in the store", lambda: found(api, pid), 60)
    searched = api.search(f"пылесос {tag}", user=user)
    assert pid in [h["product_id"] for h in searched["results"]]
    count = searched["count"]
    api.product(pid, user=user)
    api.product(missing, user=user)
    api.recommend(user)
    rows = sql(f"SELECT kind, coalesce(query, product_id, ''), result_count, outcome FROM requests "
               f"WHERE user_id = '{user}' ORDER BY at")
    assert rows[:3] == [f"search|пылесос {tag}|{count}|ok", f"product|{pid}|1|ok",
                        f"product|{missing}|0|not_found"], rows
    assert len(rows) == 4 and rows[3].startswith("recommend||") and rows[3].endswith("|fallback"), rows
    # The service relays on its own after answering; the command line before it exits.
    wait_for(f"{user}'s events acknowledged by the brokers", lambda: sent(user), 60)
    events = read_topic("client-events", user)
    got = sorted((e["event_type"], e["query"] or e["product_id"] or "") for e in events)
    assert got == sorted([("search", f"пылесос {tag}"), ("view", pid), ("view", missing), ("recommend", "")]), got
    assert [e["result_count"] for e in events if e["event_type"] == "search"] == [count]
    ids = sql(f"SELECT request_id FROM requests WHERE user_id = '{user}'")
    assert sorted(e["event_id"] for e in events) == sorted(ids), "event ids are the request ids"


@pytest.fixture
def platform_relay_stopped():
    """The platform's CLIENT API service stopped (its relay would send the test's pending event
    at once); started again after."""
    platform_services.stop(["svc-client-api"])
    yield
    platform_services.start()


def pending(user: str) -> list:
    return sql(f"SELECT count(*) FROM event_outbox WHERE user_id = '{user}' AND sent_at IS NULL")


def test_a_request_answered_by_the_command_line_while_kafka_is_unreachable_is_sent_later(tag, platform_relay_stopped):
    user = f"test-user-{tag}"
    unreachable = ("-X", "bootstrap.servers=127.0.0.1:9", "--record-timeout-secs", "2")
    code, answer = client_api("search", f"ничего {tag}", "--user", user, extra=unreachable)
    assert code == 0 and answer["count"] == 0, "the answer does not wait for Kafka"
    assert pending(user) == ["1"]
    assert read_topic("client-events", user) == []
    done = run([BIN / "client-api", "--json", "relay"])
    assert json.loads(done.stdout)["sent"] >= 1
    [event] = read_topic("client-events", user)
    assert event["event_type"] == "search" and event["query"] == f"ничего {tag}"
    assert pending(user) == ["0"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_request_the_service_answered_while_kafka_was_unreachable_leaves_once_it_is_back(tag, platform_relay_stopped):
    user = f"test-user-{tag}"
    listen, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    log = (VYGODA / "logs" / f"test-client-api-{tag}.log").open("w")
    server = subprocess.Popen([BIN / "client-api", "-X", "bootstrap.servers=127.0.0.1:9", "--record-timeout-secs", "2",
                               "serve", "--listen", listen, "--metrics-addr", metrics],
                              cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        api = Https(f"https://{listen}")

        def healthy():
            try:
                return api.get("/health").status_code == 200
            except requests.ConnectionError:
                return False
        wait_for("the test's CLIENT API answering", healthy, 60)
        assert api.search(f"ничего {tag}", user=user)["count"] == 0, "the answer does not wait for Kafka"
        assert pending(user) == ["1"]
        assert read_topic("client-events", user) == []
        assert api.get("/health").json()["outbox_pending"] >= 1
        server.terminate()
        assert server.wait(timeout=60) == 0, "SIGTERM: the service drains and exits 0"
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    assert pending(user) == ["1"], "the event waits in the outbox while Kafka is unreachable"
    # The platform's service, started again, sends it with no request to wake it.
    platform_services.start()
    wait_for(f"{user}'s event acknowledged", lambda: pending(user) == ["0"], 60)
    [event] = read_topic("client-events", user)
    assert event["event_type"] == "search" and event["query"] == f"ничего {tag}"


def metric(text: str, name: str, **labels) -> float:
    """A sample of a /metrics page; 0 when the series does not exist yet."""
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.split()[-1])
    return 0.0


def test_the_service_refuses_bad_questions_and_unknown_callers_and_counts_what_it_answers(tag):
    api = Https()
    before = requests.get("http://127.0.0.1:9107/metrics", timeout=10).text
    empty = api.get("/v1/search", q="  ")
    assert empty.status_code == 400 and "search text is empty" in empty.json()["error"]
    bad_limit = api.get("/v1/search", q="часы", limit="many")
    assert bad_limit.status_code == 400 and "limit many" in bad_limit.json()["error"]
    assert api.get("/v1/search", q="часы", in_stock="maybe").json()["error"].startswith("in_stock maybe")
    assert api.get("/v1/nothing").status_code == 404
    assert api.product(f"test-{tag}-none") == {"found": False, "product_id": f"test-{tag}-none"}
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{API_URL}/health", verify=CA, timeout=10)
    after = requests.get("http://127.0.0.1:9107/metrics", timeout=10).text

    def grew(name: str, **labels) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)
    assert grew("vygoda_client_api_requests_total", endpoint="search", outcome="invalid") >= 3
    assert grew("vygoda_client_api_requests_total", endpoint="product", outcome="not_found") >= 1
    assert grew("vygoda_client_api_request_seconds_count", endpoint="product") >= 1


def test_after_the_demo_a_users_recommendations_are_the_published_runs_list(api):
    """The latest published record of a user (read from the topic, not the store) is what
    `client-api recommend` answers, less products delisted since."""
    published = {}
    for value in read_topic("recommendations"):
        published[value["user_id"]] = value  # compacted topic: the last record of a user wins
    assert published, "no published recommendations: run `make demo` first"
    user = sorted(published)[0]
    listed = set(sql("SELECT product_id FROM products"))
    expected = [i["product_id"] for i in sorted(published[user]["items"], key=lambda i: i["rank"])
                if i["product_id"] in listed]

    def answer():
        a = api.recommend(user, limit=1000)
        return a if a["run_id"] == published[user]["run_id"] else None

    got = wait_for(f"the store sink serving {user}'s latest list", answer, 60)
    assert got["source"] == "personal" and got["model"] == published[user]["model"]
    assert [h["product_id"] for h in got["items"]] == expected
