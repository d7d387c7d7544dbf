"""Korean particles (조사) chosen for the word they follow, instead of "은(는)".

A Korean template writes the particle as a format spec: ``{domain:은}``, ``{name:이}``,
``{folder:을}``, ``{server:으로}`` (either form of a pair may be written). The particle depends
on whether the word's last syllable, as read aloud, ends in a consonant (받침): 은/이/을/과 after
one, 는/가/를/와 after none; 으로 after a consonant other than ㄹ, 로 otherwise.

Latin words and digits are read as Korean engineers read them: the last letter by its name
(``l`` 엘, ``m`` 엠, ``n`` 엔, ``r`` 알 end in a consonant; ``e`` 이 does not), a digit by its
Sino-Korean reading (3 삼, 6 육), and a few endings of domain names as words (``.com`` 컴,
``.net`` 넷, ``.org`` 오알지, ``.test`` 테스트). Punctuation at the end (quotes, brackets,
a dot) is skipped.
"""

from __future__ import annotations

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # index of ㄹ among the final consonants of a Hangul syllable
_NONE = 0
_OTHER = 1  # any final consonant that is not ㄹ

PAIRS: dict[str, tuple[str, str]] = {
    "은": ("은", "는"),
    "는": ("은", "는"),
    "이": ("이", "가"),
    "가": ("이", "가"),
    "을": ("을", "를"),
    "를": ("을", "를"),
    "과": ("과", "와"),
    "와": ("과", "와"),
}
_DIRECTION = ("으로", "로")

# Letters whose Korean name ends in a consonant: 엘, 엠, 엔, 알.
_LETTERS = {"l": _RIEUL, "m": _OTHER, "n": _OTHER, "r": _RIEUL}
# 영, 일, 이, 삼, 사, 오, 육, 칠, 팔, 구
_DIGITS = {
    "0": _OTHER, "1": _RIEUL, "2": _NONE, "3": _OTHER, "4": _NONE,
    "5": _NONE, "6": _OTHER, "7": _RIEUL, "8": _RIEUL, "9": _NONE,
}  # fmt: skip
# Word endings read as words, not letter by letter.
_WORDS = {
    "com": _OTHER,  # 컴
    "net": _OTHER,  # 넷
    "org": _NONE,  # 오알지
    "kr": _RIEUL,  # 케이알
    "io": _NONE,  # 아이오
    "test": _NONE,  # 테스트
    "dev": _NONE,  # 데브
    "app": _OTHER,  # 앱
    "local": _RIEUL,  # 로컬
    "example": _NONE,  # 이그잼플
    "pem": _OTHER,  # 펨
    "conf": _NONE,  # 콘프
    "json": _OTHER,  # 제이슨
    "log": _NONE,  # 로그
}


def final_sound(word: str) -> int:
    """``_NONE``, ``_RIEUL`` or ``_OTHER``: how ``word`` ends when read aloud."""
    text = word.rstrip(" \t\n.,;:!?)]}>\"'`/")
    if not text:
        return _NONE
    last = text[-1]
    code = ord(last)
    if _HANGUL_FIRST <= code <= _HANGUL_LAST:
        final = (code - _HANGUL_FIRST) % 28
        return _NONE if final == 0 else (_RIEUL if final == _RIEUL else _OTHER)
    lower = text.lower()
    tail = ""
    for ch in reversed(lower):
        if not ("a" <= ch <= "z"):
            break
        tail = ch + tail
    if tail:
        for ending, sound in _WORDS.items():
            if tail.endswith(ending) and (tail == ending or len(ending) >= 3):
                return sound
        return _LETTERS.get(tail[-1], _NONE)
    return _DIGITS.get(last, _NONE)


def particle(word: str, spec: str) -> str:
    """The form of particle ``spec`` (은/는, 이/가, 을/를, 과/와, 으로/로) that follows ``word``."""
    sound = final_sound(word)
    if spec in _DIRECTION:
        return _DIRECTION[0] if sound == _OTHER else _DIRECTION[1]
    after_consonant, after_vowel = PAIRS[spec]
    return after_vowel if sound == _NONE else after_consonant


def is_particle(spec: str) -> bool:
    return spec in PAIRS or spec in _DIRECTION


class Word(str):
    """A value for a template: ``format(Word("a.com"), "을")`` is ``"a.com을"``."""

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        if is_particle(spec):
            return str(self) + particle(self, spec)
        return format(str(self), spec)
