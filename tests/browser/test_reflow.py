"""Readable at 200 % zoom and without CSS (WCAG 2.1 1.4.4, 1.4.10 and 1.3.2).

At 200 % a 1280-pixel-wide screen is 640 CSS pixels wide: nothing but a data table (which
WCAG lets scroll in two dimensions) may reach past the window's right edge, so a reader never
scrolls sideways to read a line. Without the stylesheet the page still reads in order: the skip
link, the navigation, the page's heading, then its content.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import MISSING, People, Registry

if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect

# What is wider than the window, outside data tables (which scroll in their own box).
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')]
    .filter(el => !el.closest('table') && el.getBoundingClientRect().right > width + 1)
    .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ': '
              + (el.innerText || el.value || '').slice(0, 40));
}"""
SCROLLS_SIDEWAYS = "() => (el => el.scrollWidth > el.clientWidth)(document.documentElement)"
UNSTYLED = """() => {
  document.querySelectorAll('style, link[rel=stylesheet]').forEach(el => el.remove());
  const order = ['a.skip', 'nav', 'h1', 'main > :last-child'];
  return order.map(sel => document.querySelector(sel))
    .map(el => el ? el.getBoundingClientRect().top + window.scrollY : null);
}"""

PAGES = [
    "/directory",
    "/console",
    "/console/requests/new",
    "/console/accounts",
    "/console/compliance",
]


@pytest.fixture(scope="module")
def zoomed(browser: Browser, shared_registry: Registry) -> Iterator[Page]:
    """CED's console in a window of 640 CSS pixels at twice the pixel density: 200 % zoom."""
    people = People(browser=browser, registry=shared_registry)
    page = people.signed_in("ced1")
    page.set_viewport_size({"width": 640, "height": 800})
    try:
        yield page
    finally:
        people.close()


@pytest.mark.parametrize("path", [*PAGES, "account"])
def test_nothing_but_a_table_is_wider_than_the_window_at_200_percent(
    zoomed: Page, shared_registry: Registry, path: str
) -> None:
    if path == "account":
        path = f"/console/accounts/{shared_registry.ag_account}"
    response = zoomed.goto(path)
    assert response is not None and response.status == 200
    assert zoomed.evaluate(OVERFLOWING) == []
    assert not zoomed.evaluate(SCROLLS_SIDEWAYS), "the page scrolls sideways"
    # Text is resizable: the browser's zoom is not forbidden by the page.
    viewport = zoomed.locator("meta[name=viewport]").get_attribute("content") or ""
    assert "user-scalable=no" not in viewport and "maximum-scale" not in viewport


@pytest.mark.parametrize("path", PAGES)
def test_without_css_the_page_reads_in_order(
    zoomed: Page, shared_registry: Registry, path: str
) -> None:
    zoomed.goto(path)
    tops = zoomed.evaluate(UNSTYLED)
    assert None not in tops, tops
    assert tops == sorted(tops), f"skip link, navigation, heading, content: {tops}"
    expect(zoomed.get_by_role("link", name="Skip to content")).to_be_attached()
