"""Names of the demo's customers and borrowers: companies by region, public bodies, people, and a few
names that need escaping or exercise unicode (``SPECIAL_CUSTOMERS``, ``SPECIAL_BORROWERS``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NAME_FIRST = (
    "Apex",
    "Summit",
    "Northwind",
    "Blue Harbor",
    "Ironwood",
    "Cedar",
    "Granite",
    "Silverline",
    "Redwood",
    "Pioneer",
    "Keystone",
    "Evergreen",
    "Sterling",
    "Atlas",
    "Beacon",
    "Crescent",
    "Falcon",
    "Horizon",
    "Liberty",
    "Meridian",
    "Orion",
    "Pinnacle",
    "Quantum",
    "Riverbend",
    "Sapphire",
    "Titan",
    "Vanguard",
    "Willow",
    "Zenith",
    "Lakeshore",
    "Bright Path",
    "Copperfield",
    "Harborview",
    "Oakridge",
    "Stonegate",
    "Westbrook",
    "Nimbus",
    "Polaris",
    "Trident",
    "Juniper",
)
_NAME_MIDDLE = (
    "",
    "",
    "",
    "",
    "",
    "",
    "Global",
    "International",
    "National",
    "United",
    "Advanced",
    "Premier",
    "Integrated",
    "Coastal",
    "Central",
    "Digital",
    "Precision",
    "Allied",
    "Modern",
    "Continental",
)
_NAME_TRADE = (
    "Logistics",
    "Foods",
    "Analytics",
    "Manufacturing",
    "Health",
    "Energy",
    "Systems",
    "Retail",
    "Construction",
    "Textiles",
    "Pharma",
    "Software",
    "Motors",
    "Labs",
    "Supply",
    "Partners",
    "Industries",
    "Media",
    "Holdings",
    "Engineering",
    "Freight",
    "Packaging",
    "Telecom",
    "Solar",
    "Hospitality",
    "Furniture",
    "Chemicals",
    "Robotics",
    "Apparel",
    "Instruments",
)
_NAME_SUFFIX_BY_REGION: tuple[tuple[str, ...], ...] = (
    ("Inc.", "LLC", "Corp.", "Co.", "Inc.", "LLC"),
    ("Ltd", "GmbH", "S.A.", "B.V.", "plc", "AG", "S.r.l.", "SAS"),
    ("Pty Ltd", "Pte. Ltd.", "K.K.", "Ltd", "Sdn. Bhd."),
    ("S.A. de C.V.", "Ltda.", "S.A.", "S.A.S."),
)
_PUBLIC_PLACES = (
    "Springfield",
    "Riverside",
    "Franklin",
    "Greenville",
    "Madison",
    "Clinton",
    "Georgetown",
    "Salem",
    "Fairview",
    "Bristol",
    "Ashford",
    "Kingston",
    "Lancaster",
    "Milford",
    "Newport",
    "Oxford",
    "Princeton",
    "Richmond",
    "Shelby",
    "Windsor",
    "Arlington",
    "Dayton",
    "Hudson",
    "Jackson",
    "Marion",
    "Monroe",
    "Dover",
    "Lexington",
    "Burlington",
    "Chester",
)
_PUBLIC_PATTERNS = (
    "City of {}",
    "{} County",
    "{} Unified School District",
    "{} Water Authority",
    "University of {}",
    "{} Transit Authority",
    "Port of {}",
    "{} Health Department",
)
# names that need escaping / exercise unicode, with the region they belong to
SPECIAL_CUSTOMERS: tuple[tuple[str, int], ...] = (
    ("Müller & Söhne GmbH", 1),
    ('O\'Brien "Bros" <Ltd>', 0),
    ("Smith, Jones & Partners LLP", 0),
    ("Crème Brûlée Café S.à r.l.", 1),
    ("Zoë's Kitchen, Inc.", 0),
    ("São Paulo Logística Ltda.", 3),
    ("Nguyễn & Trần Trading Co.", 2),
    ("Łódź Přesné Strojírenství s.r.o.", 1),
    ("株式会社サクラ商事 (Sakura Shoji K.K.)", 2),
    ('"Quoted" Holdings; Ltd', 1),
)
_LOAN_CRE_KINDS = (
    "Properties LLC",
    "Realty Partners, L.P.",
    "Plaza Owner LLC",
    "Office Park LLC",
    "Apartments LP",
    "Hotel Holdings LLC",
    "Industrial Park LLC",
    "Self Storage LLC",
    "Retail Center LLC",
    "Medical Office Building LLC",
    "Commons Associates",
    "Logistics Center LLC",
)
_LOAN_PERSON_FIRST = (
    "James",
    "Maria",
    "Robert",
    "Linda",
    "Michael",
    "Patricia",
    "David",
    "Jennifer",
    "Daniel",
    "Aisha",
    "Carlos",
    "Mei",
    "Thomas",
    "Sarah",
    "Kevin",
    "Emily",
    "Ahmed",
    "Grace",
    "Luis",
    "Hannah",
)
_LOAN_PERSON_LAST = (
    "Smith",
    "Johnson",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "O'Neil",
    "Nguyen",
    "Patel",
    "Kim",
    "Brooks",
    "Foster",
    "Reyes",
    "Sullivan",
    "Chen",
)
# borrowers whose names need escaping / exercise unicode: (name, segment, grade they start in)
SPECIAL_BORROWERS: tuple[tuple[str, int, int], ...] = (
    ("Harbor & Main Realty, L.P.", 0, 2),
    ('D\'Angelo "Dee" Builders <Corp>', 1, 1),
    ("Ünal & Söhne Bau GmbH", 1, 2),
)


def company_names(rng: np.random.Generator, is_public: np.ndarray, region: np.ndarray) -> pa.Array:
    """A company name per customer (its legal suffix by region); public bodies get a public body's name.

    ``region`` is a code into the rows of ``_NAME_SUFFIX_BY_REGION`` (North America, EMEA, APAC, LATAM).
    """
    count = is_public.size
    first = np.array(_NAME_FIRST, dtype=object)[rng.integers(0, len(_NAME_FIRST), count)]
    middle = np.array(_NAME_MIDDLE, dtype=object)[rng.integers(0, len(_NAME_MIDDLE), count)]
    trade = np.array(_NAME_TRADE, dtype=object)[rng.integers(0, len(_NAME_TRADE), count)]
    suffix_counts = np.array([len(suffixes) for suffixes in _NAME_SUFFIX_BY_REGION])
    suffix_offsets = np.concatenate([[0], np.cumsum(suffix_counts)[:-1]])
    all_suffixes = np.array([s for suffixes in _NAME_SUFFIX_BY_REGION for s in suffixes], dtype=object)
    suffix = all_suffixes[suffix_offsets[region] + (rng.random(count) * suffix_counts[region]).astype(np.int64)]
    company = pc.binary_join_element_wise(
        pa.array(first, pa.string()),
        pa.array(middle, pa.string()),
        pa.array(trade, pa.string()),
        pa.array(suffix, pa.string()),
        " ",
    )
    company = pc.replace_substring(company, "  ", " ")  # empty middle word

    public_templates = np.array([p.split("{}") for p in _PUBLIC_PATTERNS], dtype=object)
    template = rng.integers(0, len(_PUBLIC_PATTERNS), count)
    place = np.array(_PUBLIC_PLACES, dtype=object)[rng.integers(0, len(_PUBLIC_PLACES), count)]
    public = pc.binary_join_element_wise(
        pa.array(public_templates[template, 0], pa.string()),
        pa.array(place, pa.string()),
        pa.array(public_templates[template, 1], pa.string()),
        "",
    )
    return pc.if_else(pa.array(is_public), public, company)


def special_customer_names(count: int, positions: np.ndarray) -> pa.Array:
    """``SPECIAL_CUSTOMERS``' names at ``positions`` of ``count`` customers, empty strings elsewhere."""
    names = np.full(count, "", dtype=object)
    names[positions] = [name for name, _ in SPECIAL_CUSTOMERS]
    return pa.array(names, pa.string())


def borrower_names(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    """A borrower name per loan: a property company (segment 0, CRE), a company (1, C&I) or a person (2)."""
    count = segment.size
    first = np.array(_NAME_FIRST, dtype=object)[rng.integers(0, len(_NAME_FIRST), count)]
    cre = first + " " + np.array(_LOAN_CRE_KINDS, dtype=object)[rng.integers(0, len(_LOAN_CRE_KINDS), count)]
    company = np.array(
        company_names(rng, np.zeros(count, dtype=bool), np.zeros(count, dtype=np.int64)).to_pylist(),
        dtype=object,
    )
    person = (
        np.array(_LOAN_PERSON_FIRST, dtype=object)[rng.integers(0, len(_LOAN_PERSON_FIRST), count)]
        + " "
        + np.array(_LOAN_PERSON_LAST, dtype=object)[rng.integers(0, len(_LOAN_PERSON_LAST), count)]
    )
    return np.where(segment == 0, cre, np.where(segment == 1, company, person))
