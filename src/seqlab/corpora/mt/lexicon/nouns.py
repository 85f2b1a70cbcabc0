"""The nouns of the MT lexicon by category (people, animals, things, places, ...), with German
gender, plural and weak forms, English singular and plural, and the productive compounds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Noun:
    """A noun: German singular, gender, plural (None: uncountable), English singular and plural."""

    de: str
    gender: str  # "m", "f" or "n"
    de_pl: str | None
    en: str
    en_pl: str | None
    cats: frozenset[str]
    de_weak: str | None = None  # weak masculine: the acc/dat singular form ("jungen")

    def de_form(self, case: str, plural: bool) -> str:
        """The German noun form for ``case`` (dative plural takes -n; weak nouns take -(e)n)."""
        if plural:
            assert self.de_pl is not None, f"{self.de} has no plural"
            if case == "dat" and not self.de_pl.endswith(("n", "s")):
                return self.de_pl + "n"
            return self.de_pl
        if self.de_weak is not None and case != "nom":
            return self.de_weak
        return self.de

    def en_form(self, plural: bool) -> str:
        """The English noun (plural or singular)."""
        return (self.en_pl if plural else self.en) or self.en


def _nouns(table: str, *cats: str) -> list[Noun]:
    """Parse lines "gender de_sg de_pl[/weak] | en_sg en_pl" ("-" = no plural)."""
    out = []
    for line in table.strip().splitlines():
        de_part, en_part = (p.split() for p in line.split("|"))
        gender, de, de_pl = de_part
        weak = None
        if "/" in de_pl:
            de_pl, weak = de_pl.split("/")
        en, en_pl = (w.replace("_", " ") for w in en_part)
        out.append(
            Noun(
                de=de,
                gender=gender,
                de_pl=None if de_pl == "-" else de_pl,
                en=en,
                en_pl=None if en_pl == "-" else en_pl,
                cats=frozenset(cats),
                de_weak=weak,
            )
        )
    return out


PEOPLE = _nouns(
    """
m mann männer | man men
f frau frauen | woman women
n kind kinder | child children
m junge jungen/jungen | boy boys
n mädchen mädchen | girl girls
m lehrer lehrer | teacher teachers
f lehrerin lehrerinnen | teacher teachers
m arzt ärzte | doctor doctors
f ärztin ärztinnen | doctor doctors
m nachbar nachbarn/nachbarn | neighbour neighbours
f nachbarin nachbarinnen | neighbour neighbours
m freund freunde | friend friends
f freundin freundinnen | friend friends
m bruder brüder | brother brothers
f schwester schwestern | sister sisters
m vater väter | father fathers
f mutter mütter | mother mothers
m onkel onkel | uncle uncles
f tante tanten | aunt aunts
m großvater großväter | grandfather grandfathers
f großmutter großmütter | grandmother grandmothers
m kollege kollegen/kollegen | colleague colleagues
f kollegin kolleginnen | colleague colleagues
m student studenten/studenten | student students
f studentin studentinnen | student students
m polizist polizisten/polizisten | police_officer police_officers
m kellner kellner | waiter waiters
f kellnerin kellnerinnen | waitress waitresses
m koch köche | cook cooks
m chef chefs | boss bosses
m sohn söhne | son sons
f tochter töchter | daughter daughters
""",
    "person",
)

# With a possessive, "frau" and "mann" are "wife" and "husband" (plural flag -> English).
POSSESSED_EN = {
    "frau": {False: "wife", True: "wives"},
    "mann": {False: "husband", True: "husbands"},
}

ANIMALS = _nouns(
    """
m hund hunde | dog dogs
f katze katzen | cat cats
n pferd pferde | horse horses
m vogel vögel | bird birds
f maus mäuse | mouse mice
f kuh kühe | cow cows
n kaninchen kaninchen | rabbit rabbits
f ente enten | duck ducks
""",
    "animal",
)

THINGS = _nouns(
    """
n buch bücher | book books
m brief briefe | letter letters
f zeitung zeitungen | newspaper newspapers
m schlüssel schlüssel | key keys
f tasche taschen | bag bags
n handy handys | phone phones
m computer computer | computer computers
m regenschirm regenschirme | umbrella umbrellas
f fahrkarte fahrkarten | ticket tickets
f armbanduhr armbanduhren | watch watches
f kamera kameras | camera cameras
m koffer koffer | suitcase suitcases
m rucksack rucksäcke | backpack backpacks
n geschenk geschenke | present presents
n bild bilder | picture pictures
m ball bälle | ball balls
f flasche flaschen | bottle bottles
n paket pakete | parcel parcels
f nachricht nachrichten | message messages
f zahnbürste zahnbürsten | toothbrush toothbrushes
m autoschlüssel autoschlüssel | car_key car_keys
f wasserflasche wasserflaschen | water_bottle water_bottles
f kinokarte kinokarten | cinema_ticket cinema_tickets
m bericht berichte | report reports
f postkarte postkarten | postcard postcards
""",
    "thing",
)
VEHICLES_PRIVATE = _nouns(
    """
n auto autos | car cars
n fahrrad fahrräder | bicycle bicycles
n motorrad motorräder | motorbike motorbikes
""",
    "thing",
    "vehicle",
)
VEHICLES_PUBLIC = _nouns(
    """
m zug züge | train trains
m bus busse | bus buses
f straßenbahn straßenbahnen | tram trams
n flugzeug flugzeuge | plane planes
n schiff schiffe | ship ships
f fähre fähren | ferry ferries
n taxi taxis | taxi taxis
""",
    "public",
)
CLOTHES = _nouns(
    """
f jacke jacken | jacket jackets
m mantel mäntel | coat coats
m hut hüte | hat hats
m schuh schuhe | shoe shoes
n kleid kleider | dress dresses
n hemd hemden | shirt shirts
m pullover pullover | sweater sweaters
m handschuh handschuhe | glove gloves
""",
    "clothes",
)
FOOD = _nouns(
    """
m apfel äpfel | apple apples
f banane bananen | banana bananas
m kuchen kuchen | cake cakes
n brötchen brötchen | bread_roll bread_rolls
f suppe suppen | soup soups
f pizza pizzas | pizza pizzas
m salat salate | salad salads
n ei eier | egg eggs
f tomate tomaten | tomato tomatoes
f kartoffel kartoffeln | potato potatoes
f birne birnen | pear pears
m apfelkuchen apfelkuchen | apple_cake apple_cakes
f erdbeere erdbeeren | strawberry strawberries
f wurst würste | sausage sausages
m geburtstagskuchen geburtstagskuchen | birthday_cake birthday_cakes
""",
    "food",
)
DRINKS = _nouns(
    """
m kaffee - | coffee -
m tee - | tea -
f milch - | milk -
m saft - | juice -
n wasser - | water -
n bier - | beer -
m wein - | wine -
""",
    "drink",
)
PLACES = _nouns(
    """
m bahnhof bahnhöfe | station stations
m flughafen flughäfen | airport airports
m park parks | park parks
m garten gärten | garden gardens
m supermarkt supermärkte | supermarket supermarkets
n kino kinos | cinema cinemas
n museum museen | museum museums
n krankenhaus krankenhäuser | hospital hospitals
n rathaus rathäuser | town_hall town_halls
n restaurant restaurants | restaurant restaurants
n hotel hotels | hotel hotels
n büro büros | office offices
f schule schulen | school schools
f bibliothek bibliotheken | library libraries
f küche küchen | kitchen kitchens
f bäckerei bäckereien | bakery bakeries
f apotheke apotheken | pharmacy pharmacies
f buchhandlung buchhandlungen | bookshop bookshops
f kirche kirchen | church churches
f universität universitäten | university universities
n wohnzimmer wohnzimmer | living_room living_rooms
n schlafzimmer schlafzimmer | bedroom bedrooms
m hauptbahnhof hauptbahnhöfe | main_station main_stations
""",
    "place",
)
EVENTS = _nouns(
    """
n konzert konzerte | concert concerts
f prüfung prüfungen | exam exams
f hochzeit hochzeiten | wedding weddings
f party partys | party parties
f besprechung besprechungen | meeting meetings
m geburtstag geburtstage | birthday birthdays
f reise reisen | trip trips
m film filme | film films
n spiel spiele | match matches
""",
    "event",
)
PAYABLE = _nouns(
    """
f miete mieten | rent rents
f rechnung rechnungen | bill bills
""",
    "payable",
)

# Productive compounds: modifier + head ("bahnhofs" + "uhr" = "bahnhofsuhr" ↔ "station clock").
COMPOUND_MODIFIERS = [
    ("bahnhofs", "station"),
    ("küchen", "kitchen"),
    ("garten", "garden"),
    ("büro", "office"),
    ("schul", "school"),
    ("holz", "wooden"),
    ("glas", "glass"),
    ("wohnzimmer", "living room"),
]
COMPOUND_HEADS = _nouns(
    """
f uhr uhren | clock clocks
f tür türen | door doors
m tisch tische | table tables
m stuhl stühle | chair chairs
f lampe lampen | lamp lamps
n fenster fenster | window windows
m schrank schränke | cupboard cupboards
""",
    "furniture",
)
OPENABLE_HEADS = {"tür", "fenster", "schrank"}


def _compounds() -> list[Noun]:
    out = []
    for de_mod, en_mod in COMPOUND_MODIFIERS:
        for head in COMPOUND_HEADS:
            cats = {"furniture"}
            if head.de in OPENABLE_HEADS:
                cats.add("openable")
            if head.de == "tür":
                cats.add("lockable")
            out.append(
                Noun(
                    de=de_mod + head.de,
                    gender=head.gender,
                    de_pl=de_mod + (head.de_pl or head.de),
                    en=f"{en_mod} {head.en}",
                    en_pl=f"{en_mod} {head.en_pl}",
                    cats=frozenset(cats),
                )
            )
    return out


COMPOUNDS = _compounds()


def _with_cats(nouns: list[Noun], names: set[str], *cats: str) -> list[Noun]:
    return [
        Noun(n.de, n.gender, n.de_pl, n.en, n.en_pl, n.cats | set(cats), n.de_weak)
        if n.de in names
        else n
        for n in nouns
    ]


THINGS = _with_cats(
    THINGS, {"buch", "brief", "zeitung", "nachricht", "bericht", "postkarte"}, "readable"
)
THINGS = _with_cats(THINGS, {"brief", "nachricht", "bericht", "postkarte"}, "writable")
THINGS = _with_cats(THINGS, {"tasche", "koffer", "rucksack", "flasche", "paket"}, "openable")
VEHICLES_PRIVATE = _with_cats(VEHICLES_PRIVATE, {"auto", "fahrrad", "motorrad"}, "lockable")
FOOD = _with_cats(FOOD, {"suppe", "kartoffel", "ei", "wurst", "kuchen", "pizza"}, "cookable")
PLACES = _with_cats(PLACES, {"küche", "wohnzimmer", "schlafzimmer", "büro"}, "room")
PLACES = _with_cats(
    PLACES,
    {"museum", "park", "garten", "kino", "bibliothek", "kirche", "rathaus", "universität"},
    "visitable",
)

ALL_NOUNS = (
    PEOPLE + ANIMALS + THINGS + VEHICLES_PRIVATE + VEHICLES_PUBLIC + CLOTHES + FOOD + DRINKS
) + (PLACES + EVENTS + PAYABLE + COMPOUNDS)


def nouns_with(*cats: str) -> list[Noun]:
    """Nouns that have at least one of ``cats``."""
    wanted = set(cats)
    return [n for n in ALL_NOUNS if n.cats & wanted]
