"""Starts a mock upstream and a gateway (target/debug/tollgate, built by
`cargo test` beforehand) on free 127.0.0.1 ports for the SDK tests, with one
model per upstream format, and stops them at the end of the session."""

import contextlib
import os
import re
import subprocess
import tempfile
import threading
import time

import anthropic
import openai
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "target", "debug", "tollgate")
KEY = "tg-sdk-test-key-0123456789"

# The gateway model per upstream format, and the fixture names each format's
# recordings go by (tests/fixtures/<format>/).
FORMATS = ["openai", "anthropic", "gemini"]
MODEL = {f: f"m-{f}" for f in FORMATS}


class Proc:
    """A tollgate process whose stderr is read until it says where it listens."""

    def __init__(self, args, env=None):
        self.log = []
        self.proc = subprocess.Popen(
            [BIN, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.addr = None
        found = threading.Event()

        # Under scripts/test.sh every line is also kept on disk, for the
        # audit that greps the whole suite's logs for the secrets it used.
        log_dir = os.environ.get("TOLLGATE_TEST_LOG_DIR")
        sink = None
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
            sink = open(os.path.join(log_dir, f"sdk-{self.proc.pid}.log"), "w")

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                if sink:
                    sink.write(line)
                    sink.flush()
                m = re.search(r"listening on (\S+)", line)
                if m and not found.is_set():
                    self.addr = m.group(1)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(15):
            self.stop()
            raise RuntimeError(f"tollgate {args[0]} did not start: {''.join(self.log)}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


CONFIG = """
[server]
listen = "127.0.0.1:0"
workers = 1

# The SDK sees every upstream error as it is: no gateway retries, no breaker.
[routing.retry]
max_attempts = 1

[routing.breaker]
enabled = false

# The embedded store in the session's temp directory, not the checkout.
[governance]
store = "{store}"

[[keys]]
id = "sdk"
key = "env:TOLLGATE_SDK_TEST_KEY"

[[providers]]
name = "up-openai"
kind = "openai_compatible"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]

[[providers]]
name = "up-anthropic"
kind = "anthropic"
base_url = "http://{mock}/v1"
forward_headers = ["x-mock-*"]

[[providers]]
name = "up-gemini"
kind = "gemini"
base_url = "http://{mock}/v1beta"
forward_headers = ["x-mock-*"]

# The OpenAI-format upstream's model counts as gpt-4o does (o200k).
[catalog."gpt-up"]
like = "gpt-4o"

[[models]]
name = "m-openai"
provider = "up-openai"
upstream_model = "gpt-up"

[[models]]
name = "m-anthropic"
provider = "up-anthropic"
upstream_model = "claude-up"

[[models]]
name = "m-gemini"
provider = "up-gemini"
upstream_model = "gemini-2.5-flash"
"""


# Every SDK test runs against a gateway (and mock) on each driver, as the
# Rust tests do; io_uring is skipped, visibly, on a kernel without it.
DRIVERS = ["io_uring", "epoll"]


@contextlib.contextmanager
def mock_and_gateway(driver, prefix, config, secrets=None):
    """A mock upstream and a gateway on `driver`, the gateway serving
    `config(mock_addr, temp_dir)` with `secrets` added to its environment;
    skips, visibly, when the kernel lacks the driver."""
    assert os.path.exists(BIN), f"{BIN} is missing: run cargo build (or cargo test) first"
    # `auto` picks io_uring where the kernel has it: if it picks epoll, the
    # io_uring half cannot run here.
    flag = "auto" if driver == "io_uring" else "epoll"
    env = {k: v for k, v in os.environ.items() if k != "TOLLGATE_CONFIG" and not k.endswith("_API_KEY")}
    mock = Proc(["mock-upstream", "--listen", "127.0.0.1:0", "--workers", "1", "--driver", flag], env)
    if f"(driver {driver})" not in "".join(mock.log):
        mock.stop()
        pytest.skip(f"{driver} unavailable on this kernel: skipped")
    gw = None
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        path = os.path.join(d, "tollgate.toml")
        with open(path, "w") as f:
            f.write(config(mock.addr, d))
        try:
            gw = Proc(["serve", "--config", path, "--driver", flag], {**env, **(secrets or {})})
            assert f"(driver {driver})" in "".join(gw.log), "".join(gw.log)
            yield mock, gw
        finally:
            if gw:
                gw.stop()
            mock.stop()


@pytest.fixture(scope="session", params=DRIVERS)
def servers(request):
    config = lambda mock, d: CONFIG.format(mock=mock, store=os.path.join(d, "gov.db"))
    with mock_and_gateway(request.param, "tollgate-sdk-", config, {"TOLLGATE_SDK_TEST_KEY": KEY}) as (mock, gw):
        yield {"gateway": f"http://{gw.addr}", "mock": f"http://{mock.addr}", "gw": gw}


@pytest.fixture
def client(servers):
    return anthropic.Anthropic(
        api_key=KEY, base_url=servers["gateway"], max_retries=0, timeout=20
    )


@pytest.fixture
def oai(servers):
    return openai.OpenAI(
        api_key=KEY, base_url=servers["gateway"] + "/v1", max_retries=0, timeout=20
    )


@pytest.fixture
def mock_url(servers):
    return servers["mock"]


@pytest.fixture(params=FORMATS)
def fmt(request):
    return request.param


def last_request(mock_url):
    """The body of the last request the mock recorded (`x-mock-record`)."""
    import urllib.request

    with urllib.request.urlopen(mock_url + "/mock/last-request", timeout=10) as r:
        return r.read()
