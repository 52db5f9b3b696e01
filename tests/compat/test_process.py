"""``/api/process/read-barcode`` and ``/api/process/check-blank`` against a real service: a QR
code read from a page URL in the reference's (DBR 9) result shape, the key it needs, its
settings, and blank checks of a scanned solid-black page, a white page and a page with a QR
code."""

from __future__ import annotations

import httpx
import pytest
from PIL import Image

from tests.compat.test_storage import (
    QR_TEXT,
    dwt_error,
    import_pages,
    qr_image,
    scan_pages,
    source_url,
)
from tests.conftest import Service

QR_FORMAT = 0x4000000  # DBR's BF_QR_CODE


@pytest.fixture(scope="module")
def pages(service: Service) -> dict[str, str]:
    """Page URLs: a QR page, a white page (imported) and a solid black page (scanned)."""
    with service.client() as http:
        _, (qr, white) = import_pages(http, [qr_image(), Image.new("L", (600, 800), 255)])
        _, (black, _) = scan_pages(http)
    return {"qr": source_url(service, qr), "white": source_url(service, white),
            "black": source_url(service, black)}


def read(service: Service, body: dict[str, object], key: str | None = None) -> httpx.Response:
    headers = {"DWT-PRODUCT-KEY": service.key if key is None else key}
    return httpx.post(f"{service.url}/api/process/read-barcode", json=body, headers=headers,
                      timeout=30)


def test_read_a_qr_code(service: Service, pages: dict[str, str]) -> None:
    answer = read(service, {"source": pages["qr"]})
    assert answer.status_code == 200, answer.text
    (found,) = answer.json()
    assert found["barcodeText"] == QR_TEXT
    assert found["barcodeFormat"] == QR_FORMAT and found["barcodeFormatString"] == "QR_CODE"
    assert bytes(found["barcodeBytes"]) == QR_TEXT.encode()
    where = found["localizationResult"]
    xs = [where[f"x{i}"] for i in range(1, 5)]
    ys = [where[f"y{i}"] for i in range(1, 5)]
    assert 140 <= min(xs) < max(xs) <= 460 and 190 <= min(ys) < max(ys) <= 510, where
    assert where["angle"] == 0 and len(where["resultPoints"]) == 4
    assert read(service, {"source": pages["white"]}).json() == []


@pytest.mark.parametrize("settings", [
    "coverage", "speed", "balance", "BestCoverage", "BestSpeed", "Balance",
    '{"ImageParameter":{"Name":"BestSpeed","BarcodeFormatIds":["BF_QR_CODE"],'
    '"BarcodeFormatIds_2":["BF2_POSTALCODE"],"DeblurLevel":3,"ExpectedBarcodesCount":512}}',
    '{"ImageParameter":{"Name":"t","BarcodeFormatIds":["BF_ALL"]}}',
    '{"ImageParameter":{"Name":"t","BarcodeFormatIds":["BF_PATCHCODE","BF_QR_CODE"]}}',
    '{"ImageParameterContentArray":[{"Name":"t","BarcodeFormatIds":["BF_QR_CODE"]}]}',
    {"ImageParameter": {"Name": "t", "BarcodeFormatIds": ["BF_QR_CODE"]}},
    '{"Version":"3.0"}',
])
def test_barcode_settings(service: Service, pages: dict[str, str], settings: object) -> None:
    answer = read(service, {"source": pages["qr"], "settings": settings})
    assert answer.status_code == 200, answer.text
    assert [b["barcodeText"] for b in answer.json()] == [QR_TEXT]


def test_a_template_for_other_formats_finds_nothing(service: Service,
                                                    pages: dict[str, str]) -> None:
    answer = read(service, {"source": pages["qr"], "settings":
                            '{"ImageParameter":{"BarcodeFormatIds":["BF_CODE_128"]}}'})
    assert answer.status_code == 200 and answer.json() == [], answer.text


def test_read_barcode_errors(service: Service, pages: dict[str, str]) -> None:
    dwt_error(httpx.post(f"{service.url}/api/process/read-barcode", timeout=10,
                         json={"source": pages["qr"]}), 403, -2800)
    dwt_error(read(service, {"source": pages["qr"]}, key="t0000-trial-key"), 403, -2800)
    for body in ({"source": pages["qr"], "settings": "fastest"},
                 {"source": pages["qr"], "settings": "[1]"},
                 {"source": pages["qr"], "settings": 5},
                 {"source": pages["qr"].replace("127.0.0.1", "example.com")},
                 {"settings": "speed"}):
        dwt_error(read(service, body), 400, -2113)
    dwt_error(read(service, {"source": source_url(service, "nosuchpage")}), 404, -1040)
    # The key may come in the body, whatever the Content-Type, as older clients send it.
    answer = httpx.post(f"{service.url}/api/process/read-barcode", timeout=30,
                        headers={"Content-Type": "application/text"},
                        content=f'{{"source": "{pages["qr"]}", "license": "{service.key}"}}')
    assert answer.status_code == 200 and len(answer.json()) == 1, answer.text


def blank(service: Service, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{service.url}/api/process/check-blank", json=body, timeout=30)


def test_check_blank(service: Service, pages: dict[str, str]) -> None:
    for name, expected in (("black", True), ("white", True), ("qr", False)):
        for settings in (None, {"minBlockHeight": 20, "maxBlockHeight": 30}):
            body: dict[str, object] = {"source": pages[name]}
            if settings is not None:
                body["settings"] = settings
            answer = blank(service, body)
            assert answer.status_code == 200 and answer.json() == {"result": expected}, (
                name, answer.text)


def test_check_blank_errors(service: Service, pages: dict[str, str]) -> None:
    for body in ({"source": pages["qr"], "settings": {"minBlockHeight": "tall"}},
                 {"source": pages["qr"], "settings": {"maxBlockHeight": -1}},
                 {"source": pages["qr"], "settings": [20, 30]},
                 {"source": "file:///etc/passwd"}, {}):
        dwt_error(blank(service, body), 400, -2113)
    dwt_error(blank(service, {"source": source_url(service, "nosuchpage")}), 404, -1040)
    dwt_error(httpx.get(f"{service.url}/api/process/check-blank", timeout=10), 405, -2112)
