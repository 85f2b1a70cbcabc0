"""Proper names and the calendar of the MT lexicon: first names, destinations (cities and
countries used without an article), months, weekdays and days per month."""

from __future__ import annotations

NAMES = (
    "anna maria peter thomas lena paul julia emma laura sarah david martin sophie clara "
    "michael daniel eva hanna tobias stefan"
).split()
# (German, English): cities and countries used without article.
DESTINATIONS = [
    tuple(p.split(":"))
    for p in (
        "berlin:berlin hamburg:hamburg bremen:bremen dresden:dresden leipzig:leipzig "
        "stuttgart:stuttgart frankfurt:frankfurt münchen:munich köln:cologne wien:vienna "
        "rom:rome prag:prague zürich:zurich mailand:milan venedig:venice warschau:warsaw "
        "brüssel:brussels lissabon:lisbon kopenhagen:copenhagen athen:athens genf:geneva "
        "nürnberg:nuremberg hannover:hanover paris:paris london:london madrid:madrid "
        "deutschland:germany frankreich:france italien:italy spanien:spain österreich:austria "
        "polen:poland schweden:sweden norwegen:norway dänemark:denmark griechenland:greece "
        "portugal:portugal japan:japan kanada:canada"
    ).split()
]
MONTHS_DE = (
    "januar februar märz april mai juni juli august september oktober november dezember".split()
)
MONTHS_EN = (
    "january february march april may june july august september october november december".split()
)
WEEKDAYS = [
    ("montag", "monday"),
    ("dienstag", "tuesday"),
    ("mittwoch", "wednesday"),
    ("donnerstag", "thursday"),
    ("freitag", "friday"),
    ("samstag", "saturday"),
    ("sonntag", "sunday"),
]
DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
