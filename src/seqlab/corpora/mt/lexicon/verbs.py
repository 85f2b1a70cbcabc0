"""The verbs of the MT lexicon: German present-tense conjugation (stem changes, separable
prefixes), participles and auxiliaries, English forms, what each verb combines with, and modals."""

from __future__ import annotations

from dataclasses import dataclass

# Persons: 0 ich, 1 du, 2 er/sie/es and singular noun phrases, 3 wir, 4 ihr, 5 sie and plurals.
PRONOUNS_DE = ["ich", "du", "er", "wir", "ihr", "sie"]
FULL_TABLES = {
    "sein": "bin bist ist sind seid sind",
    "haben": "habe hast hat haben habt haben",
    "werden": "werde wirst wird werden werdet werden",
    "können": "kann kannst kann können könnt können",
    "wollen": "will willst will wollen wollt wollen",
    "müssen": "muss musst muss müssen müsst müssen",
    "dürfen": "darf darfst darf dürfen dürft dürfen",
    "mögen": "mag magst mag mögen mögt mögen",
    "wissen": "weiß weißt weiß wissen wisst wissen",
}
PRETERITE_TABLES = {
    "sein": "war warst war waren wart waren",
    "haben": "hatte hattest hatte hatten hattet hatten",
}


def _needs_e(stem: str) -> bool:
    """arbeit-e-t, find-e-t, öffn-e-t: an -e- before -st/-t."""
    if stem.endswith(("t", "d")):
        return True
    return stem[-1] in "mn" and len(stem) > 1 and stem[-2] not in "aeiouäöülrmnh"


def conjugate_present(inf: str, du: str | None = None, er: str | None = None) -> list[str]:
    """German present tense of ``inf`` for the six persons.

    Args:
        inf: the (base) infinitive without separable prefix, e.g. "kaufen", "fahren".
        du, er: stem-changed forms where the verb has them ("fährst", "fährt").

    Returns:
        [ich, du, er, wir, ihr, sie] forms.
    """
    if inf in FULL_TABLES:
        return FULL_TABLES[inf].split()
    stem = inf[:-2] if inf.endswith("en") else inf[:-1]
    e = "e" if _needs_e(stem) else ""
    if du is None:
        du = stem + (e + "st" if e or not stem.endswith(("s", "ß", "z", "x")) else "t")
    if er is None:
        er = stem + e + "t"
    return [stem + "e", du, er, inf, stem + e + "t", inf]


@dataclass(frozen=True)
class Verb:
    """A verb with its German forms, English forms and what it combines with.

    ``kind``: "acc" (direct object), "dat" (dative object), "prep" (prepositional object),
    "motion"/"stay" (a destination or location phrase), "copula" (sein + predicate).
    """

    inf: str  # full German infinitive ("anrufen")
    prefix: str  # separable prefix ("an") or ""
    present: tuple[str, ...]  # present tense of the base verb ("rufe", "rufst", ...)
    participle: str
    aux: str  # "haben" or "sein"
    en: tuple[str, str, str]  # base, 3rd singular, past ("call", "calls", "called")
    kind: str
    cats: frozenset[str] = frozenset()
    prep: tuple[str, str, str] | None = None  # (German preposition, case, English preposition)

    @property
    def preterite(self) -> list[str] | None:
        """Simple past forms for verbs whose past is told that way (sein, haben), else None."""
        table = PRETERITE_TABLES.get(self.inf)
        return table.split() if table else None


def _verb(spec: str, kind: str, cats: str = "", prep: str | None = None) -> Verb:
    """Parse "inf[:prefix] [du,er] participle aux | base 3sg past" (English "_" = space)."""
    de_part, en_part = spec.split("|")
    fields = de_part.split()
    inf, prefix = (fields[0].split(":") + [""])[:2]
    base_inf = inf[len(prefix) :]
    du = er = None
    if len(fields) == 4:
        du, er = fields[1].split(",")
    participle, aux = fields[-2], fields[-1]
    en = tuple(w.replace("_", " ") for w in en_part.split())
    prep_t = None
    if prep is not None:
        p, case, en_p = prep.split()
        prep_t = (p, case, en_p)
    return Verb(
        inf=inf,
        prefix=prefix,
        present=tuple(conjugate_present(base_inf, du, er)),
        participle=participle,
        aux=aux,
        en=en,  # type: ignore[arg-type]
        kind=kind,
        cats=frozenset(cats.split()),
        prep=prep_t,
    )


_ANY_OBJECT = "person animal thing clothes furniture"
TRANSITIVE = [
    _verb("kaufen gekauft haben | buy buys bought", "acc", "thing clothes furniture food"),
    _verb("sehen siehst,sieht gesehen haben | see sees saw", "acc", _ANY_OBJECT + " public"),
    _verb("lesen liest,liest gelesen haben | read reads read", "acc", "readable"),
    _verb("schreiben geschrieben haben | write writes wrote", "acc", "writable"),
    _verb("essen isst,isst gegessen haben | eat eats ate", "acc", "food"),
    _verb("trinken getrunken haben | drink drinks drank", "acc", "drink"),
    _verb("kochen gekocht haben | cook cooks cooked", "acc", "cookable"),
    _verb("bestellen bestellt haben | order orders ordered", "acc", "food drink"),
    _verb("suchen gesucht haben | look_for looks_for looked_for", "acc", _ANY_OBJECT),
    _verb("finden gefunden haben | find finds found", "acc", "person animal thing clothes"),
    _verb("verlieren verloren haben | lose loses lost", "acc", "thing clothes"),
    _verb(
        "vergessen vergisst,vergisst vergessen haben | forget forgets forgot",
        "acc",
        "thing clothes",
    ),
    _verb("brauchen gebraucht haben | need needs needed", "acc", "thing clothes furniture"),
    _verb("mögen gemocht haben | like likes liked", "acc", "person animal food drink"),
    _verb("reparieren repariert haben | repair repairs repaired", "acc", "vehicle furniture"),
    _verb("putzen geputzt haben | clean cleans cleaned", "acc", "furniture room vehicle"),
    _verb("waschen wäschst,wäscht gewaschen haben | wash washes washed", "acc", "clothes vehicle"),
    _verb("verkaufen verkauft haben | sell sells sold", "acc", "thing furniture"),
    _verb("tragen trägst,trägt getragen haben | carry carries carried", "acc", "thing clothes"),
    _verb("besuchen besucht haben | visit visits visited", "acc", "person visitable"),
    _verb("treffen triffst,trifft getroffen haben | meet meets met", "acc", "person"),
    _verb("fragen gefragt haben | ask asks asked", "acc", "person"),
    _verb("einladen:ein lädst,lädt eingeladen haben | invite invites invited", "acc", "person"),
    _verb("anrufen:an angerufen haben | call calls called", "acc", "person"),
    _verb("abholen:ab abgeholt haben | pick_up picks_up picked_up", "acc", "person thing"),
    _verb("aufmachen:auf aufgemacht haben | open opens opened", "acc", "openable"),
    _verb("zumachen:zu zugemacht haben | close closes closed", "acc", "openable"),
    _verb("abschließen:ab abgeschlossen haben | lock locks locked", "acc", "lockable"),
    _verb("mitbringen:mit mitgebracht haben | bring brings brought", "acc", "thing food person"),
    _verb("anschauen:an angeschaut haben | look_at looks_at looked_at", "acc", _ANY_OBJECT),
    _verb("verpassen verpasst haben | miss misses missed", "acc", "public"),
    _verb("nehmen nimmst,nimmt genommen haben | take takes took", "acc", "public thing"),
    _verb("bezahlen bezahlt haben | pay pays paid", "acc", "payable"),
    _verb("schicken geschickt haben | send sends sent", "acc", "writable"),
    _verb("haben gehabt haben | have has had", "acc", "animal thing"),
    _verb("helfen hilfst,hilft geholfen haben | help helps helped", "dat", "person"),
    _verb("danken gedankt haben | thank thanks thanked", "dat", "person"),
    _verb("folgen gefolgt sein | follow follows followed", "dat", "person animal"),
    _verb("warten gewartet haben | wait waits waited", "prep", "person public", "auf acc for"),
    _verb("denken gedacht haben | think thinks thought", "prep", "person", "an acc of"),
    _verb(
        "sprechen sprichst,spricht gesprochen haben | talk talks talked",
        "prep",
        "person",
        "mit dat to",
    ),
    _verb("spielen gespielt haben | play plays played", "prep", "person animal", "mit dat with"),
]
MOTION = {
    "fahren": _verb("fahren fährst,fährt gefahren sein | go goes went", "motion"),
    "fliegen": _verb("fliegen geflogen sein | fly flies flew", "motion"),
    "reisen": _verb("reisen gereist sein | travel travels travelled", "motion"),
    "gehen": _verb("gehen gegangen sein | go goes went", "motion"),
    "kommen": _verb("kommen gekommen sein | come comes came", "motion"),
    "wohnen": _verb("wohnen gewohnt haben | live lives lived", "stay"),
    "arbeiten": _verb("arbeiten gearbeitet haben | work works worked", "stay"),
    "bleiben": _verb("bleiben geblieben sein | stay stays stayed", "stay"),
    "schlafen": _verb("schlafen schläfst,schläft geschlafen haben | sleep sleeps slept", "stay"),
}
COPULA = _verb("sein gewesen sein | be is was", "copula")
# Verbs that introduce a "dass"/"ob" clause.
SAY_VERBS = [
    _verb("glauben geglaubt haben | think thinks thought", "say"),
    _verb("wissen gewusst haben | know knows knew", "say"),
    _verb("sagen gesagt haben | say says said", "say"),
    _verb("hoffen gehofft haben | hope hopes hoped", "say"),
    _verb("hören gehört haben | hear hears heard", "say"),
]
COST = _verb("kosten gekostet haben | cost costs cost", "amount")
PAY = _verb("bezahlen bezahlt haben | pay pays paid", "amount")
# Separable verbs for timetables ("der zug fährt um acht uhr ab" ↔ "the train leaves at ...").
TIMETABLE_VERBS = [
    _verb("abfahren:ab fährst,fährt abgefahren sein | leave leaves left", "time"),
    _verb("ankommen:an angekommen sein | arrive arrives arrived", "time"),
]
EVENT_VERBS = [
    _verb("beginnen begonnen haben | start starts started", "time"),
    _verb("enden geendet haben | end ends ended", "time"),
]

# Modals: German verb, English (declarative 3sg, declarative other, negated 3sg, negated other,
# question auxiliary 3sg, question auxiliary other, rest after the subject in questions).
MODALS = {
    "können": ("can", "can", "cannot", "cannot", "can", "can", ""),
    "dürfen": ("may", "may", "may not", "may not", "may", "may", ""),
    "wollen": (
        "wants to",
        "want to",
        "does not want to",
        "do not want to",
        "does",
        "do",
        "want to",
    ),
    "müssen": ("has to", "have to", "does not have to", "do not have to", "does", "do", "have to"),
}
