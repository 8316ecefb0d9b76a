"""Profile URLs: which platform and handle an address names, and the links built back."""

from __future__ import annotations

import pytest

from registry import platforms
from registry.errors import InvalidInput
from registry.platforms import (
    MAX_URL_LENGTH,
    PLATFORMS,
    PROFILE_URLS,
    canonical_profile_url,
    get_platform,
    normalize_handle,
    parse_profile_url,
)

CHANNEL_ID = "UCaBcDeFgHiJkLmNoPqRsT_-"  # 24 characters starting with UC, case-sensitive


def assert_one_sentence(error: InvalidInput) -> None:
    message = error.message
    assert message.endswith("."), message
    assert "\n" not in message, message
    assert ". " not in message, message


GOOD = [
    # Facebook
    ("https://www.facebook.com/MBGov", "facebook", "MBGov"),
    ("HTTPS://WWW.FACEBOOK.COM/MBGov", "facebook", "MBGov"),
    ("http://facebook.com/MBGov/", "facebook", "MBGov"),
    ("https://m.facebook.com/MBGov?ref=share#top", "facebook", "MBGov"),
    ("https://fb.com/mb.gov-news", "facebook", "mb.gov-news"),
    ("https://www.fb.com/MBGov", "facebook", "MBGov"),
    ("https://facebook.com:443/MBGov", "facebook", "MBGov"),
    ("http://facebook.com:80/MBGov", "facebook", "MBGov"),
    ("https://facebook.com/MBGov/posts/123", "facebook", "MBGov"),
    ("https://web.facebook.com/MBGov", "facebook", "MBGov"),
    ("https://business.facebook.com/MBGov/", "facebook", "MBGov"),
    ("https://fb.me/MBGov", "facebook", "MBGov"),
    ("https://www.facebook.com/Manitoba.Gov", "facebook", "Manitoba.Gov"),
    ("https://www.facebook.com/pg/MBGov/posts/", "facebook", "MBGov"),
    ("https://www.facebook.com/p/Manitoba-Gov-100064123456789/", "facebook", "100064123456789"),
    ("https://www.facebook.com/profile.php?id=100064123456789", "facebook", "100064123456789"),
    ("https://m.facebook.com/profile.php?id=1&sk=about#x", "facebook", "1"),
    # Instagram
    ("https://www.instagram.com/mbgov/", "instagram", "mbgov"),
    ("https://Instagram.com/MB.Gov_", "instagram", "MB.Gov_"),
    ("https://m.instagram.com/mbgov?igsh=abc#x", "instagram", "mbgov"),
    ("https://instagram.com/@mbgov", "instagram", "mbgov"),
    # X / Twitter
    ("https://x.com/MBGov", "x", "MBGov"),
    ("https://twitter.com/MBGov/", "x", "MBGov"),
    ("https://www.twitter.com/MBGov?lang=en", "x", "MBGov"),
    ("https://mobile.twitter.com/MBGov", "x", "MBGov"),
    ("https://mobile.x.com/MBGov", "x", "MBGov"),
    ("https://m.x.com/mb_gov#replies", "x", "mb_gov"),
    ("https://x.com/MBGov/status/1234567890", "x", "MBGov"),
    ("HTTP://X.COM/MBGov", "x", "MBGov"),
    # LinkedIn
    (
        "https://www.linkedin.com/company/government-of-manitoba/",
        "linkedin",
        "government-of-manitoba",
    ),
    ("https://linkedin.com/company/MBGov?trk=x", "linkedin", "MBGov"),
    ("https://WWW.LinkedIn.com/Company/MBGov/about/", "linkedin", "MBGov"),
    ("https://www.linkedin.com/showcase/travel-manitoba", "linkedin", "travel-manitoba"),
    ("https://m.linkedin.com/company/12345", "linkedin", "12345"),
    (
        "https://ca.linkedin.com/company/government-of-manitoba",
        "linkedin",
        "government-of-manitoba",
    ),
    ("https://UK.linkedin.com/company/MBGov/about", "linkedin", "MBGov"),
    # YouTube
    ("https://www.youtube.com/@MBGov", "youtube", "MBGov"),
    ("https://m.youtube.com/@MBGov/videos", "youtube", "MBGov"),
    ("https://YOUTUBE.COM/@mb.gov-news?si=x", "youtube", "mb.gov-news"),
    (f"https://www.youtube.com/channel/{CHANNEL_ID}", "youtube", CHANNEL_ID),
    (f"https://youtube.com/CHANNEL/{CHANNEL_ID}/featured#x", "youtube", CHANNEL_ID),
    # YouTube's other namespaces keep their prefix: /c/x and /user/x are not the handle @x
    ("https://www.youtube.com/c/ManitobaGov", "youtube", "c/ManitobaGov"),
    ("https://www.youtube.com/C/ManitobaGov/videos", "youtube", "c/ManitobaGov"),
    ("https://www.youtube.com/user/manitobagov/", "youtube", "user/manitobagov"),
    ("https://www.youtube.com/ManitobaGov", "youtube", "c/ManitobaGov"),
    # TikTok
    ("https://www.tiktok.com/@mbgov", "tiktok", "mbgov"),
    ("https://TikTok.com/@MB.Gov_/", "tiktok", "MB.Gov_"),
    ("https://m.tiktok.com/@mbgov?lang=en", "tiktok", "mbgov"),
    ("https://www.tiktok.com/@mbgov/video/7234567890123456789", "tiktok", "mbgov"),
    # Threads
    ("https://www.threads.net/@mbgov", "threads", "mbgov"),
    ("https://threads.com/@MBGov/", "threads", "MBGov"),
    ("https://WWW.THREADS.COM/@mb.gov?hl=en#x", "threads", "mb.gov"),
    ("https://www.threads.net/@mbgov/post/C1a2b3", "threads", "mbgov"),
    # Bluesky
    ("https://bsky.app/profile/mbgov.bsky.social", "bluesky", "mbgov.bsky.social"),
    ("https://BSKY.APP/profile/gov.mb.ca/", "bluesky", "gov.mb.ca"),
    ("https://bsky.app/Profile/MBGov.bsky.social?x=1#y", "bluesky", "MBGov.bsky.social"),
    ("https://bsky.app/profile/mbgov.bsky.social/post/3kabc", "bluesky", "mbgov.bsky.social"),
    # Mastodon: any host, path exactly /@user (maybe a status number)
    ("https://mastodon.social/@MBGov", "mastodon", "MBGov@mastodon.social"),
    ("HTTPS://Mastodon.Social/@MBGov/", "mastodon", "MBGov@mastodon.social"),
    ("https://social.gov.mb.ca/@news_desk?x=1#y", "mastodon", "news_desk@social.gov.mb.ca"),
    ("http://mstdn.ca/@MBGov/111222333444", "mastodon", "MBGov@mstdn.ca"),
    ("https://mastodon.social/users/MBGov", "mastodon", "MBGov@mastodon.social"),
    ("https://mastodon.social/users/MBGov/statuses/1234", "mastodon", "MBGov@mastodon.social"),
    ("https://mastodon.social/@MBGov@mastodon.social", "mastodon", "MBGov@mastodon.social"),
    ("https://Mastodon.Social/@MBGov@MASTODON.social/1", "mastodon", "MBGov@mastodon.social"),
    # Flickr
    ("https://www.flickr.com/photos/manitobagov/", "flickr", "manitobagov"),
    ("https://flickr.com/people/MB_Gov", "flickr", "MB_Gov"),
    ("https://m.flickr.com/photos/manitobagov/albums?x=1", "flickr", "manitobagov"),
]


@pytest.mark.parametrize(("url", "platform", "handle"), GOOD)
def test_profile_url_names_platform_and_handle(url: str, platform: str, handle: str) -> None:
    parsed_platform, parsed_handle = parse_profile_url(url)
    assert parsed_platform.name == platform
    assert parsed_handle == handle
    # The handle is exactly what the registry would store for it.
    assert normalize_handle(parsed_platform, parsed_handle)[0] == parsed_handle
    link = platforms.read_profile_url(url)
    assert (link.platform, link.handle) == (parsed_platform, parsed_handle)
    assert normalize_handle(link.platform, link.handle) == (link.handle, link.compared)


BAD = [
    # Hosts that merely look like a platform's
    "https://facebook.com.evil.io/x",
    "https://evil.io/facebook.com/x",
    "https://evilfacebook.com/x",
    "https://facebook.com./x",
    "https://xn--facebok-u5a.com/x",
    "https://faceb\u043eok.com/x",  # Cyrillic o
    "https://graph.facebook.com/MBGov",
    "https://www.www.facebook.com/MBGov",
    "https://mobile.facebook.com/MBGov",
    "https://1.2.3.4/MBGov",
    "https://[::1]/MBGov",
    "https://localhost/@MBGov",
    # Schemes
    "javascript:alert(1)",
    "JaVaScRiPt://facebook.com/x",
    "data:text/html,x",
    "ftp://facebook.com/x",
    "file:///etc/passwd",
    "facebook.com/MBGov",
    "//facebook.com/MBGov",
    "https:facebook.com/MBGov",
    # Authority tricks
    "https://user@facebook.com/x",
    "https://facebook.com@evil.io/x",
    "https://user:pass@facebook.com/x",
    "https://facebook.com:8443/x",
    "https://facebook.com:/x",
    "https://facebook.com:0443/x",
    "https://facebook.com:80/x",
    # Characters
    "https://facebook.com/a%2Fb",
    "https://facebook.com/a%2fb",
    "https://facebook.com/%4DBGov",
    "https://facebook.com/a\\b",
    "https://evil.io\\@facebook.com/x",
    "https://facebook.com/MBGov\nx",
    "https://facebook.com/MB Gov",
    " https://facebook.com/MBGov",
    "https://facebook.com/MBGov\t",
    "https://facebook.com/MBGov\x00",
    "https://facebook.com/\u202eMBGov",
    "https://facebook.com/MBGov?q=a b",
    "https://facebook.com/MBG\u00f6v",
    "https://facebook.com/<script>",
    # Paths that are no account, or no account of the registry's kind
    "https://facebook.com/",
    "https://facebook.com",
    "https://facebook.com?id=1",
    "https://facebook.com/profile.php",
    "https://facebook.com/profile.php?id=abc",
    "https://facebook.com/profile.php?id=",
    "https://facebook.com/profile.php?id=1&id=2",
    "https://facebook.com/profile.php?ID=1",
    "https://facebook.com/profile.php/x?id=1",
    "https://facebook.com/p/ManitobaGov",
    "https://facebook.com/p/Manitoba-Gov-12x",
    "https://facebook.com/p/Cabc123",
    "https://facebook.com/pg",
    "https://facebook.com/...",
    "https://facebook.com/.-.",
    "https://fb.me/",
    "https://www.facebook.com/permalink.php?story_fbid=1&id=2",
    "https://www.facebook.com/story.php?story_fbid=1&id=2",
    "https://www.facebook.com/share/p/1AbCdEf/",
    "https://www.facebook.com/watch/?v=123",
    "https://www.facebook.com/reel/123",
    "https://www.facebook.com/pages/MBGov/123",
    "https://facebook.com/groups/mbgov",
    "https://facebook.com/watch/?v=1",
    "https://facebook.com/events/1",
    "https://facebook.com/sharer/sharer.php?u=x",
    "https://facebook.com/login",
    "https://facebook.com/home.php",
    "https://facebook.com/@pages",
    "https://facebook.com/..",
    "https://facebook.com/./MBGov",
    "https://facebook.com/MBGov//posts",
    "https://facebook.com/MB_Gov",
    "https://instagram.com/p/Cabc123",
    "https://www.instagram.com/tv/Cabc123/",
    "https://instagram.com/reel/Cabc123",
    "https://instagram.com/reels",
    "https://instagram.com/stories/mbgov/1",
    "https://instagram.com/explore",
    "https://instagram.com/accounts/login",
    "https://x.com/home",
    "https://x.com/i/lists/1",
    "https://twitter.com/intent/tweet?text=x",
    "https://x.com/search?q=x",
    "https://x.com/hashtag/mb",
    "https://x.com/share",
    "https://x.com/settings",
    "https://x.com/@@MBGov",
    "https://x.com/i/web/status/1234567890",
    "https://x.com/i/status/1234567890",
    "https://twitter.com/statuses/1234567890",
    "https://x.com/much_too_long_handle",
    "https://linkedin.com/in/jane-doe",
    "https://www.linkedin.com/in/jane-doe/",
    "https://linkedin.com/company/",
    "https://linkedin.com/MBGov",
    "https://linkedin.com/school/umanitoba",
    "https://www.linkedin.com/posts/government-of-manitoba_flood-update-activity-7123-abcd",
    "https://www.linkedin.com/feed/update/urn:li:activity:7123/",
    "https://c1.linkedin.com/company/MBGov",
    "https://www.ca.linkedin.com/company/MBGov",
    "https://abc.linkedin.com/company/MBGov",
    "https://youtube.com/watch?v=abc",
    "https://youtube.com/shorts/abc",
    "https://youtube.com/playlist?list=abc",
    "https://youtube.com/results?search_query=x",
    "https://youtube.com/live/abc",
    "https://youtube.com/post/Ugkxabc",
    "https://youtube.com/embed/abc",
    "https://youtube.com/feed/subscriptions",
    f"https://youtube.com/@{CHANNEL_ID}",
    "https://youtube.com/c/",
    "https://youtube.com/channel/MBGov",
    "https://youtube.com/channel/uCaBcDeFgHiJkLmNoPqRsT_-",
    "https://www.tiktok.com/mbgov",
    "https://www.tiktok.com/",
    "https://www.tiktok.com/t/ZT8abc/",
    "https://www.threads.net/mbgov",
    "https://www.threads.net/t/C1a2b3",
    "https://bsky.app/mbgov.bsky.social",
    "https://bsky.app/profile/did:plc:abc123",
    "https://bsky.app/profile/mbgov",
    "https://flickr.com/MBGov",
    "https://flickr.com/photos/12345678@N02",
    # Mastodon: only /@user on a plain domain, optionally a status number
    "https://mastodon.social/MBGov",
    "https://mastodon.social/@MBGov/followers",
    "https://mastodon.social/@MBGov@gov.social",
    "https://mastodon.social/@MBGov@",
    "https://mastodon.social/users/MBGov/followers",
    "https://mastodon.social/@MB-Gov",
    "https://mastodon.social/",
    "https://mastodon.social./@MBGov",
    "https://xn--mstdon-sqa.social/@MBGov",
    # Too long
    "https://x.com/MBGov?" + "a" * MAX_URL_LENGTH,
    "",
]


@pytest.mark.parametrize("url", BAD)
def test_anything_else_is_refused_in_one_sentence(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_profile_url(url)
    assert_one_sentence(caught.value)


def test_personal_linkedin_profile_is_explained() -> None:
    with pytest.raises(InvalidInput, match="personal profiles are not registered accounts"):
        parse_profile_url("https://linkedin.com/in/jane-doe")


def test_tiktok_without_at_sign_shows_the_expected_shape() -> None:
    with pytest.raises(InvalidInput, match="@name"):
        parse_profile_url("https://www.tiktok.com/mbgov")


def test_overlong_url_is_refused_without_echoing_it() -> None:
    url = "https://x.com/MBGov?" + "a" * MAX_URL_LENGTH
    with pytest.raises(InvalidInput) as caught:
        parse_profile_url(url)
    assert len(caught.value.message) < 200


def test_url_at_the_length_limit_is_accepted() -> None:
    base = "https://x.com/MBGov?"
    url = base + "a" * (MAX_URL_LENGTH - len(base))
    assert len(url) == MAX_URL_LENGTH
    assert parse_profile_url(url)[1] == "MBGov"


def test_lookalike_host_with_at_path_is_a_mastodon_server_never_facebook() -> None:
    platform, handle = parse_profile_url("https://facebook.com.evil.io/@x")
    assert (platform.name, handle) == ("mastodon", "x@facebook.com.evil.io")


def test_known_platform_host_is_never_read_as_mastodon() -> None:
    platform, handle = parse_profile_url("https://instagram.com/@mbgov")
    assert (platform.name, handle) == ("instagram", "mbgov")


def test_youtube_handle_may_be_a_reserved_word_with_at_sign() -> None:
    platform, handle = parse_profile_url("https://www.youtube.com/@live")
    assert (platform.name, handle) == ("youtube", "live")


def compared(url: str) -> tuple[str, str]:
    """The platform and the handle as compared, the way registration reads a profile URL."""
    platform, handle = parse_profile_url(url)
    return platform.name, normalize_handle(platform, handle)[1]


SAME_ACCOUNT = [
    # Facebook ignores dots and case in user names, on every host it answers on.
    ("https://www.facebook.com/Manitoba.Gov", "https://fb.com/manitobagov"),
    ("https://www.facebook.com/M.B.Gov", "https://www.facebook.com/mbgov"),
    ("https://fb.me/MBGov", "https://www.facebook.com/mbgov"),
    ("https://web.facebook.com/MBGov", "https://www.facebook.com/MBGov"),
    ("https://business.facebook.com/MBGov", "https://www.facebook.com/MBGov"),
    ("https://www.facebook.com/pg/MBGov/about/", "https://www.facebook.com/MBGov"),
    # A page known by its number: /p/Name-N and profile.php?id=N are the page N.
    ("https://www.facebook.com/p/Manitoba-Gov-100064/", "https://www.facebook.com/100064"),
    ("https://www.facebook.com/profile.php?id=100064", "https://www.facebook.com/100064"),
    # YouTube: @handles ignore case; each namespace matches itself.
    ("https://www.youtube.com/@MBGov", "https://m.youtube.com/@mbgov/videos"),
    ("https://www.youtube.com/c/MBGov", "https://www.youtube.com/mbgov"),
    ("https://www.youtube.com/user/MBGov", "https://youtube.com/USER/mbgov"),
    ("https://ca.linkedin.com/company/mbgov", "https://www.linkedin.com/company/MBGov"),
    ("https://mastodon.social/users/MBGov", "https://mastodon.social/@MBGov"),
    ("https://mastodon.social/@MBGov@mastodon.social", "https://mastodon.social/@mbgov"),
]


@pytest.mark.parametrize(("one", "other"), SAME_ACCOUNT)
def test_links_to_the_same_account_compare_equal(one: str, other: str) -> None:
    assert compared(one) == compared(other)


DIFFERENT_ACCOUNTS = [
    ("https://www.youtube.com/@MBGov", "https://www.youtube.com/c/MBGov"),
    ("https://www.youtube.com/@MBGov", "https://www.youtube.com/user/MBGov"),
    ("https://www.youtube.com/@MBGov", "https://www.youtube.com/MBGov"),
    ("https://www.youtube.com/c/MBGov", "https://www.youtube.com/user/MBGov"),
    (f"https://www.youtube.com/channel/{CHANNEL_ID}", f"https://www.youtube.com/c/{CHANNEL_ID}"),
    ("https://www.instagram.com/mb.gov", "https://www.instagram.com/mbgov"),
    ("https://x.com/MBGov", "https://x.com/MB_Gov"),
]


@pytest.mark.parametrize(("one", "other"), DIFFERENT_ACCOUNTS)
def test_links_to_different_accounts_compare_different(one: str, other: str) -> None:
    assert compared(one) != compared(other)


def test_youtube_handle_keeps_its_namespace_and_ignores_case() -> None:
    youtube = get_platform("youtube")
    assert normalize_handle(youtube, "@ManitobaGov") == ("ManitobaGov", "manitobagov")
    assert normalize_handle(youtube, "c/ManitobaGov") == ("c/ManitobaGov", "c/manitobagov")
    assert normalize_handle(youtube, "USER/ManitobaGov") == ("user/ManitobaGov", "user/manitobagov")
    assert normalize_handle(youtube, CHANNEL_ID) == (CHANNEL_ID, CHANNEL_ID)
    for bad in ("x/ManitobaGov", "c/", "c/a/b", "channel/ManitobaGov"):
        with pytest.raises(InvalidInput) as caught:
            normalize_handle(youtube, bad)
        assert_one_sentence(caught.value)


def test_facebook_handle_ignores_dots_and_case_but_shows_them() -> None:
    facebook = get_platform("facebook")
    assert normalize_handle(facebook, "@Manitoba.Gov") == ("Manitoba.Gov", "manitobagov")
    with pytest.raises(InvalidInput) as caught:
        normalize_handle(facebook, "...")
    assert_one_sentence(caught.value)


def test_a_youtube_handle_shaped_like_a_channel_id_is_never_that_channel() -> None:
    with pytest.raises(InvalidInput, match="channel id") as caught:
        parse_profile_url(f"https://www.youtube.com/@{CHANNEL_ID}")
    assert_one_sentence(caught.value)


def test_mastodon_account_of_another_server_is_sent_to_its_own_address() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_profile_url("https://mastodon.social/@MBGov@gov.social")
    assert "https://gov.social/@MBGov" in caught.value.message
    assert_one_sentence(caught.value)


CONTENT = [
    "https://x.com/MBGov/status/1234567890",
    "https://twitter.com/MBGov/status/1234567890/photo/1",
    "https://www.facebook.com/MBGov/posts/pfbid0abc",
    "https://www.facebook.com/MBGov/videos/123456",
    "https://www.facebook.com/pg/MBGov/posts/123",
    "https://www.instagram.com/mbgov/p/Cabc123/",
    "https://www.instagram.com/mbgov/reel/Cabc123/",
    "https://www.tiktok.com/@mbgov/video/7234567890123456789",
    "https://www.threads.net/@mbgov/post/C1a2b3",
    "https://www.youtube.com/@MBGov/live",
    "https://www.youtube.com/@MBGov/community?lb=Ugkx",
    "https://bsky.app/profile/mbgov.bsky.social/post/3kabc",
    "https://www.flickr.com/photos/manitobagov/53123456789",
    "https://mastodon.social/@MBGov/111222333444",
    "https://mastodon.social/users/MBGov/statuses/111222333444",
    "https://www.linkedin.com/company/MBGov/some/thing",
]

PROFILE = [
    "https://x.com/MBGov",
    "https://x.com/MBGov/with_replies",
    "https://www.facebook.com/MBGov/about/",
    "https://www.facebook.com/MBGov/photos",
    "https://www.facebook.com/profile.php?id=100064",
    "https://www.instagram.com/mbgov/tagged/",
    "https://www.youtube.com/@MBGov/videos",
    f"https://www.youtube.com/channel/{CHANNEL_ID}/featured",
    "https://www.linkedin.com/company/MBGov/about/",
    "https://www.flickr.com/photos/manitobagov/albums",
    "https://mastodon.social/@MBGov",
]


@pytest.mark.parametrize("url", CONTENT)
def test_a_link_to_a_post_names_the_account_and_says_it_is_content(url: str) -> None:
    link = platforms.read_profile_url(url)
    assert link.content is True
    assert link.handle.lower().removesuffix("@mastodon.social") in {
        "mbgov",
        "mbgov.bsky.social",
        "manitobagov",
    }


@pytest.mark.parametrize("url", PROFILE)
def test_a_profile_or_one_of_its_tabs_is_not_content(url: str) -> None:
    assert platforms.read_profile_url(url).content is False


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/i/web/status/1234567890",
        "https://instagram.com/p/Cabc123",
        "https://www.youtube.com/watch?v=abc",
        "https://www.youtube.com/shorts/abc",
        "https://www.facebook.com/permalink.php?story_fbid=1&id=2",
        "https://www.linkedin.com/posts/government-of-manitoba_flood-activity-7123-abcd",
        "https://www.threads.net/t/C1a2b3",
    ],
)
def test_a_post_link_that_names_no_trustworthy_account_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match=r"but not its account|for sure") as caught:
        parse_profile_url(url)
    assert_one_sentence(caught.value)


ROUND_TRIP = [
    ("facebook", "MBGov"),
    ("facebook", "mb.gov-news"),
    ("fb", "@MBGov"),
    ("instagram", "mb.gov_"),
    ("x", "MBGov"),
    ("twitter", "mb_gov"),
    ("linkedin", "government-of-manitoba"),
    ("youtube", "MBGov"),
    ("youtube", CHANNEL_ID),
    ("youtube", "c/ManitobaGov"),
    ("youtube", "user/manitobagov"),
    ("facebook", "Manitoba.Gov"),
    ("facebook", "100064123456789"),
    ("tiktok", "mb.gov_"),
    ("threads", "MBGov"),
    ("bluesky", "mbgov.bsky.social"),
    ("bsky", "gov.mb.ca"),
    ("mastodon", "MBGov@mastodon.social"),
    ("mastodon", "@news_desk@social.gov.mb.ca"),
    ("flickr", "manitoba-gov"),
]


@pytest.mark.parametrize(("name", "handle"), ROUND_TRIP)
def test_canonical_url_parses_back_to_the_same_account(name: str, handle: str) -> None:
    platform = get_platform(name)
    shown, _ = normalize_handle(platform, handle)
    url = canonical_profile_url(platform, handle)
    assert url.startswith("https://")
    parsed_platform, parsed_handle = parse_profile_url(url)
    assert parsed_platform is platform
    assert parsed_handle == shown


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_every_platform_has_url_rules_and_a_working_link(platform: object) -> None:
    assert isinstance(platform, type(PLATFORMS[0]))
    assert platform.name in PROFILE_URLS
    handle = {"bluesky": "mbgov.bsky.social", "mastodon": "MBGov@mastodon.social"}.get(
        platform.name, "MBGov"
    )
    assert parse_profile_url(canonical_profile_url(platform, handle)) == (platform, handle)


def test_canonical_urls_are_the_expected_links() -> None:
    assert (
        canonical_profile_url(get_platform("tiktok"), "@mbgov") == "https://www.tiktok.com/@mbgov"
    )
    assert (
        canonical_profile_url(get_platform("youtube"), CHANNEL_ID)
        == f"https://www.youtube.com/channel/{CHANNEL_ID}"
    )
    assert (
        canonical_profile_url(get_platform("youtube"), "C/ManitobaGov")
        == "https://www.youtube.com/c/ManitobaGov"
    )
    assert (
        canonical_profile_url(get_platform("youtube"), "user/manitobagov")
        == "https://www.youtube.com/user/manitobagov"
    )
    assert (
        canonical_profile_url(get_platform("linkedin"), "MBGov")
        == "https://www.linkedin.com/company/MBGov"
    )
    assert (
        canonical_profile_url(get_platform("mastodon"), "MBGov@mastodon.social")
        == "https://mastodon.social/@MBGov"
    )


def test_mastodon_server_case_round_trips_on_the_compared_handle() -> None:
    platform = get_platform("mastodon")
    url = canonical_profile_url(platform, "MBGov@Mastodon.Social")
    assert url == "https://mastodon.social/@MBGov"
    parsed_platform, parsed = parse_profile_url(url)
    assert parsed_platform is platform
    assert normalize_handle(platform, parsed)[1] == "mbgov@mastodon.social"


@pytest.mark.parametrize(
    ("name", "handle"),
    [
        ("facebook", "pages"),
        ("facebook", "profile.php"),
        ("facebook", "pg"),
        ("facebook", "p"),
        ("instagram", "p"),
        ("instagram", ".."),
        ("x", "home"),
        ("x", "i"),
        ("mastodon", "MBGov@x.com"),
        ("mastodon", "MBGov@www.facebook.com"),
        ("facebook", "not a handle"),
        ("tiktok", "mb/gov"),
    ],
)
def test_canonical_url_refuses_handles_no_profile_address_can_name(name: str, handle: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        canonical_profile_url(get_platform(name), handle)
    assert_one_sentence(caught.value)
