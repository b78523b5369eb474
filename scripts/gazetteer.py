#!/usr/bin/env python3
"""Builds the names detector's gazetteers (crates/seam-policy/data/names/*.txt) from Faker.

Faker (https://github.com/joke2k/faker, MIT licence, (c) 2012 Daniele Faraglia) ships per-locale
lists of given names, surnames, cities, regions and countries. This script downloads one pinned
wheel with pip (no install, no import: the lists are read from the source with `ast`), takes the
seven locales Seam's names detector covers plus a few others' given names, normalises (NFC, one
space, case kept), drops entries that are common words (data/names/common.txt, hand-written) from
the place lists, dedups, and writes one entry per line under a header naming the source.

    python3 scripts/gazetteer.py            # from the repository root
"""

import ast
import pathlib
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

VERSION = "40.54.0"
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "seam-policy" / "data" / "names"

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_PT", "pt_BR"]
# Given names only, for diversity: names of people who write to an English-speaking gateway.
EXTRA_GIVEN = ["en_IN", "en_IE", "de_AT", "de_CH", "fr_CH", "es_MX", "pl_PL", "tr_TR", "sv_SE", "da_DK"]
GIVEN_ATTRS = ["first_names", "first_names_male", "first_names_female", "first_names_nonbinary"]
SURNAME_ATTRS = ["last_names", "last_names_male", "last_names_female"]
# Cities, regions and countries. Italian frazioni (cap_city_province) are left out: thousands of
# hamlets named like common words.
PLACE_ATTRS = ["cities", "states", "regions", "departments", "counties", "estados", "countries",
               "provinces", "distritos"]
# Villages and small municipalities: thousands of names, many of them words ("Enter", "Grave",
# "Horn"). They go to towns.txt, which the rules trust only after a preposition or a postal code.
TOWN_ATTRS = {"nl_NL": ["cities"], "pt_PT": ["concelhos"]}
COUNTRY_MODULES = ["en", "de", "es", "fr_FR", "it_IT", "nl_NL", "pt_PT", "pt_BR"]


# Hand-written for Seam (not from Faker): large cities Faker's locales have no list for, and the
# commonest surnames its short lists miss.
EXTRA_PLACES = """London Manchester Birmingham Liverpool Leeds Sheffield Bristol Newcastle Nottingham Leicester
Edinburgh Glasgow Cardiff Belfast Aberdeen Oxford Cambridge Brighton Southampton Dublin Cork
England Scotland Wales Germany Britain
New_York Los_Angeles Chicago Houston Phoenix Philadelphia San_Antonio San_Diego Dallas San_Jose
Austin Seattle Boston Denver Atlanta Miami Detroit Portland Las_Vegas San_Francisco Baltimore
Minneapolis Pittsburgh Cleveland Orlando Nashville New_Orleans Toronto Montreal Vancouver Ottawa
Berlin Hamburg München Munich Köln Cologne Frankfurt Stuttgart Düsseldorf Leipzig Dresden Hannover
Nürnberg Bremen Wien Vienna Zürich Zurich Genf Geneva Basel Bern Salzburg Graz
Paris Marseille Lyon Toulouse Nice Nantes Strasbourg Montpellier Bordeaux Lille Rennes Grenoble
Bruxelles Brussels Brüssel Anvers Antwerpen Antwerp Gent Liège Luxembourg
Madrid Barcelona Valencia Sevilla Seville Zaragoza Málaga Bilbao Granada Palma Alicante
Roma Rome Rom Milano Milan Mailand Napoli Naples Neapel Torino Turin Palermo Genova Genoa Bologna
Firenze Florence Florenz Venezia Venice Venedig Verona Trieste
Amsterdam Rotterdam Den_Haag The_Hague Utrecht Eindhoven Groningen Tilburg Almere Breda Nijmegen
Lisboa Lisbon Lissabon Lisbonne Porto Coimbra Braga Faro São_Paulo Rio_de_Janeiro Brasília
Salvador Fortaleza Belo_Horizonte Recife Curitiba
Tokyo Beijing Shanghai Delhi New_Delhi Mumbai Bangalore Singapore Sydney Melbourne Auckland
Mexico_City Buenos_Aires Lima Bogotá Santiago Cairo Istanbul Moscow Warsaw Prague Budapest
Stockholm Copenhagen Oslo Helsinki Athens
Europe Asia Africa Oceania Antarctica North_America South_America Latin_America Central_America
Middle_East Scandinavia Europa Afrika Asien Amérique_du_Nord América_del_Sur América_Latina
United_States United_States_of_America Stati_Uniti Paesi_Bassi Catalunya Euskadi País_Vasco
Abruzzo Basilicata Calabria Campania Emilia-Romagna Friuli-Venezia_Giulia Lazio Liguria Lombardia
Marche Molise Piemonte Puglia Sardegna Sicilia Toscana Trentino-Alto_Adige Umbria Valle_d'Aosta
Veneto Algarve Alentejo Madeira Açores Bretagne Provence Normandie Occitanie Bourgogne
Auvergne-Rhône-Alpes Hauts-de-France Grand_Est Nouvelle-Aquitaine Wallonie Vlaanderen Flandern
Tirol Vorarlberg Kärnten Steiermark Wallonia Flanders Bavaria Saxony Tuscany Lombardy Sicily
Sardinia Andalusia Catalonia Brittany Normandy Burgundy Holland""".split()
EXTRA_SURNAMES = """Meier Meyer Mayer Maier Groß Gross Schmitz Hoffmann Schäfer Koch Bauer Richter Klein Wolf
Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Werner Krause Lehmann
Köhler Herrmann König Walter Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn
Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht
Smith Johnson Williams Jones Brown Davis Wilson Taylor Thomas Moore Martin Jackson Thompson
Lovelace Turing Hopper Raman Patel Singh Kumar Sharma Gupta Khan Nguyen Kim Lee Chen Wang Li
Dupont Durand Lefebvre Moreau Girard Fournier Lambert Fontaine Rousseau Vincent Muller
García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Ruiz Hernández Jiménez
Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti
de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit Meijer de_Boer Mulder
Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Jesus Sousa Fernandes Gonçalves""".split()


def literal(node, env):
    """The strings in a class attribute's value: tuples, lists, dicts (keys), OrderedDict(...),
    and sums of other attributes."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        out = []
        for e in node.elts:
            out.extend(literal(e, env))
        return out
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Dict):
        return [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    if isinstance(node, ast.Call) and node.args:
        return literal(node.args[0], env)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal(node.left, env) + literal(node.right, env)
    if isinstance(node, ast.Name):
        return env.get(node.id, [])
    return []


def attrs(source):
    env = {}
    for cls in (n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)):
        for st in cls.body:
            if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name):
                env[st.targets[0].id] = literal(st.value, env)
            elif isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name) and st.value:
                env[st.target.id] = literal(st.value, env)
    return env


def norm(s):
    s = unicodedata.normalize("NFC", " ".join(s.split()))
    return s if s and not any(c.isdigit() for c in s) and len(s) <= 40 else ""


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", f"faker=={VERSION}", "--no-deps",
                        "--only-binary=:all:", "-d", tmp, "-q"], check=True)
        wheel = next(pathlib.Path(tmp).glob("*.whl"))
        z = zipfile.ZipFile(wheel)

        def module(kind, loc):
            try:
                return attrs(z.read(f"faker/providers/{kind}/{loc}/__init__.py").decode("utf-8"))
            except KeyError:
                return {}

        given, surnames, places, towns = set(), set(), set(), set()
        for loc in LOCALES + EXTRA_GIVEN:
            p = module("person", loc)
            for a in GIVEN_ATTRS:
                given.update(filter(None, map(norm, p.get(a, []))))
            if loc in LOCALES:
                for a in SURNAME_ATTRS:
                    surnames.update(filter(None, map(norm, p.get(a, []))))
                ad = module("address", loc)
                for a in PLACE_ATTRS:
                    if a not in TOWN_ATTRS.get(loc, []):
                        places.update(filter(None, map(norm, ad.get(a, []))))
                for a in TOWN_ATTRS.get(loc, []):
                    towns.update(filter(None, map(norm, ad.get(a, []))))
        for m in COUNTRY_MODULES:
            places.update(filter(None, map(norm, module("address", m).get("countries", []))))

    places.update(p.replace("_", " ") for p in EXTRA_PLACES)
    surnames.update(p.replace("_", " ") for p in EXTRA_SURNAMES)
    common = {l.strip().lower() for l in (OUT / "common.txt").read_text().splitlines()
              if l.strip() and not l.startswith("#")}
    # Given names need a single word (compound forms like "Jean-Luc" are one word); surnames may
    # carry particles ("van der Berg").
    given = {g for g in given if " " not in g}
    places = {p for p in places if p.lower() not in common and len(p) > 2}
    towns = {t for t in towns if " " not in t and t.lower() not in common and len(t) > 2} - places
    header = f"# From Faker {VERSION} (https://github.com/joke2k/faker), MIT licence, (c) 2012 Daniele Faraglia. Generated by scripts/gazetteer.py."
    for name, items in [("given.txt", given), ("surnames.txt", surnames), ("places.txt", places), ("towns.txt", towns)]:
        lines = sorted(items, key=lambda s: (s.lower(), s))
        (OUT / name).write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}: {len(lines)} entries, {(OUT / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
