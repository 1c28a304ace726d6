"""Text normalised for speech in the reply's language: numbers, years, clock times, decimals,
money, ordinals and dates said in German, Spanish, French and Polish (the expected strings are
num2words' own words, checked by hand against its output), digits kept for a language without
rules, English unchanged, and the same bounds as the English rules on hostile text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from num2words import num2words

from voicecli.tts.normalize import EXPANSION_BOUND, normalize_for_speech
from voicecli.tts.speakable import SpeakableStream, split_for_speech

CASES = {
    "de": [
        ("Das sind 42 Äpfel.", "Das sind zweiundvierzig Äpfel."),
        ("Es war 1999.", "Es war neunzehnhundertneunundneunzig."),
        ("Seit 2024 gilt das.", "Seit zweitausendvierundzwanzig gilt das."),
        ("Es ist 10:15 Uhr.", "Es ist zehn Uhr fünfzehn."),
        ("Um 1:00 geht es los.", "Um ein Uhr geht es los."),
        ("Um 21:05 endet es.", "Um einundzwanzig Uhr fünf endet es."),
        ("Pi ist 3,14.", "Pi ist drei Komma eins vier."),
        ("Es sind 1.000 Leute und -7 Grad.", "Es sind eintausend Leute und minus sieben Grad."),
        ("Es kostet 3,50 Euro.", "Es kostet drei Euro und fünfzig Cent."),
        ("Nur 5 € oder $1.", "Nur fünf Euro oder ein Dollar."),
        ("Plus 25% Rabatt.", "Plus fünfundzwanzig Prozent Rabatt."),
        ("Am 3. Mai.", "Am dritten Mai."),
        ("Heute ist der 21. Dezember.", "Heute ist der einundzwanzigste Dezember."),
    ],
    "es": [
        ("Tengo 42 años.", "Tengo cuarenta y dos años."),
        ("Fue en 1999.", "Fue en mil novecientos noventa y nueve."),
        ("Son las 10:15.", "Son las diez y quince."),
        ("A la 1:00 y a las 21:00.", "A la una en punto y a las veintiuna en punto."),
        ("Mide 3,5 metros.", "Mide tres punto cinco metros."),
        ("Cuesta 3,50 euros.", "Cuesta tres euros con cincuenta céntimos."),
        ("Vinieron 1.000 personas, el 25%.", "Vinieron mil personas, el veinticinco por ciento."),
        ("El 1º y la 3ª.", "El primero y la tercera."),
    ],
    "fr": [
        ("Il a 42 ans.", "Il a quarante-deux ans."),
        ("En 1999.", "En mille neuf cent quatre-vingt-dix-neuf."),
        ("Il est 10:15.", "Il est dix heures quinze."),
        ("À 1h05 ou 21h.", "À une heure cinq ou vingt et une heures."),
        ("Pi vaut 3,14.", "Pi vaut trois virgule un quatre."),
        ("Ça coûte 3,50 €.", "Ça coûte trois euros et cinquante centimes."),
        ("Le 1er mai, la 1re fois, le 2e étage.", "Le premier mai, la première fois, le deuxième étage."),
        ("Ils sont 1 000.", "Ils sont mille."),
    ],
    "pl": [
        ("Mam 42 lata.", "Mam czterdzieści dwa lata."),
        ("W 1999 roku.", "W tysiąc dziewięćset dziewięćdziesiąt dziewięć roku."),
        ("Jest 10:15.", "Jest dziesiąta piętnaście."),
        ("Spotkajmy się o 10:15 albo o 22:00.", "Spotkajmy się o dziesiątej piętnaście albo o dwudziestej drugiej."),
        ("Ma 3,5 metra.", "Ma trzy przecinek pięć metra."),
        ("Kosztuje 3,50 zł.", "Kosztuje trzy złote, pięćdziesiąt groszy."),
        ("Było 1 000 osób i -7 stopni.", "Było tysiąc osób i minus siedem stopni."),
        ("Dnia 3 maja i 21 grudnia.", "Dnia trzeciego maja i dwudziestego pierwszego grudnia."),
    ],
}


@pytest.mark.parametrize("language,text,spoken", [(lang, t, s) for lang, cases in CASES.items() for t, s in cases])
def test_numbers_times_and_money_are_said_in_the_language(language, text, spoken):
    assert normalize_for_speech(text, language) == spoken


def test_the_words_are_num2words_own():
    assert num2words(1999, lang="de", to="year") == "neunzehnhundertneunundneunzig"
    assert num2words(3.14, lang="fr") == "trois virgule un quatre"
    assert num2words(21, lang="pl", to="ordinal") == "dwudziesty pierwszy"  # → dwudziestego pierwszego (genitive)
    assert num2words(3, lang="es", to="ordinal") == "tercero"  # → tercera after ª


def test_a_locale_or_a_region_selects_the_language():
    assert normalize_for_speech("Es ist 10:15 Uhr.", "de-DE") == normalize_for_speech("Es ist 10:15 Uhr.", "de")
    assert normalize_for_speech("Es ist 10:15 Uhr.", "de_AT") == "Es ist zehn Uhr fünfzehn."


def test_english_is_unchanged():
    text = "It is 10:15 AM, costs $3.50, up 20% since 2019, the 3rd of 1,000 at a@b.com #1."
    assert normalize_for_speech(text, "en") == normalize_for_speech(text) == normalize_for_speech(text, None)
    assert normalize_for_speech(text) == ("It is ten fifteen AM, costs three point five dollars, up twenty percent "
                                          "since twenty nineteen, the third of one thousand at a at b dot com "
                                          "number one.")


def test_a_language_without_rules_keeps_its_digits_for_the_voice():
    assert normalize_for_speech("**Sono** le 10:15, costa 3,50 € (25%) 🎉", "it") == "Sono le 10:15, costa 3,50 € (25%)"
    assert normalize_for_speech("Vedi www.example.com o a@b.it #2", "it") == "Vedi example.com o a@b.it 2"
    assert normalize_for_speech("الساعة 10:15", "ar") == "الساعة 10:15"


def test_markup_urls_and_symbols_use_the_language_s_words():
    assert normalize_for_speech("- **Mail** an a@b.de & www.example.com #1", "de") == \
        "Mail an a at b Punkt de und example Punkt com Nummer eins"
    assert normalize_for_speech("Tom & Jerry = 2 × 3", "fr") == "Tom et Jerry égale deux fois trois"


def test_a_streamed_german_reply_is_spoken_in_german_even_across_a_date():
    stream = SpeakableStream(language="de")
    deltas = ["Bis", " zum", " 3", ".", " Mai", " um", " 10", ":", "15", " Uhr", ".",
              " Es", " kostet", " 3", ",", "50", " €", "."]  # (first pieces are cut after 8 words)
    pieces = [p for d in deltas for p in stream.push(d)] + stream.flush()
    assert [p.spoken for p in pieces] == ["Bis zum dritten Mai um zehn Uhr fünfzehn.",
                                          "Es kostet drei Euro und fünfzig Cent."]
    assert "".join(p.text for p in pieces).replace(" ", "") == "".join(deltas).replace(" ", "")


def test_a_whole_text_is_split_in_its_language():
    assert split_for_speech("Il est 10:15. Ça coûte 3,50 €.", language="fr") == [
        "Il est dix heures quinze.", "Ça coûte trois euros et cinquante centimes."]


def test_long_numbers_are_read_digit_by_digit_in_the_language():
    assert normalize_for_speech("1234567890123456", "de") == ("eins zwei drei vier fünf sechs sieben acht neun "
                                                              "null eins zwei drei vier fünf sechs")
    assert normalize_for_speech("-12345678901234567,5", "es").startswith("menos uno dos tres")


_TOKENS = st.sampled_from(["1", "7", "0", "12", "21", "1.000", "1 000", "3,5", "3.50", "10:15", "1:01", "0:07",
                           "21h", " Uhr", "-", ".", ",", ":", "%", "$", "€", "£", "zł", "Euro", "euros", "#", "&",
                           "+", "=", "@", "°", "°C", "→", "×", "º", "ª", "er", "re", "e", " Mai", " maja", "am ",
                           "o ", "*", "`", "http://", "www.", ".com", " ", "\n", "a", "😀", "\x00"])
TEXTS = st.one_of(st.text(max_size=300), st.lists(_TOKENS, max_size=200).map("".join),
                  st.lists(st.sampled_from(["7", "1", "a", ".", ","]), min_size=1, max_size=2000).map("".join))


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["de", "es", "fr", "pl", "it"]), TEXTS)
def test_other_languages_are_bounded_like_english(language, text):
    out = normalize_for_speech(text, language)
    assert len(out) <= EXPANSION_BOUND * len(text)
    assert "\n" not in out and "\x00" not in out
    assert all(len(w) <= 80 for w in out.split())  # a German number is one word: at most 65 letters


def test_rest_speech_says_numbers_in_the_voice_s_language():
    from tests.unit.fake_engines import FakeEngines, FakeSpeaker, FakeTranscriber, rest_client

    german = FakeEngines(FakeTranscriber(()), speaker=FakeSpeaker("de_DE-fake-medium"))
    with rest_client(german) as client:
        r = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Es ist 10:15 Uhr.",
                                                  "response_format": "pcm"})
    assert r.status_code == 200 and german.speaker.spoken == ["Es ist zehn Uhr fünfzehn."]


def test_wyoming_says_numbers_in_the_voice_s_language():
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

    from tests.unit.wyoming_harness import FakeSpeaker, run
    from voicecli.server.wyoming.catalog import ModelCard, ModelSlot, WyomingEngines

    said: list[str] = []

    class German(FakeSpeaker):
        def synthesize(self, text, speed=1.0):
            said.append(text)
            return super().synthesize(text, speed)

    voice = German()
    engines = WyomingEngines(stt=[], tts=[ModelSlot(ModelCard("de_DE-fake-medium", ("de_DE",), "fake"), lambda: voice)])

    async def script(c):
        await c.send(Synthesize(text="Es ist 10:15 Uhr.").event())
        await c.read_until("audio-stop")
        await c.send(SynthesizeStart().event(), SynthesizeChunk(text="Es kostet 3,50 ").event(),
                     SynthesizeChunk(text="Euro.").event(), SynthesizeStop().event())
        await c.read_until("synthesize-stopped")

    run(engines, script)
    assert said == ["Es ist zehn Uhr fünfzehn.", "Es kostet drei Euro und fünfzig Cent."]
