"""ISO 4217 currency codes: what a ``currency`` column may hold.

The active codes of ISO 4217 List One (including funds and precious-metal codes such as CLF, XAU) plus codes
withdrawn since 2000 that old ledgers still carry (HRK, LTL, VEF…). A three-letter code outside this set is a
typo or an invented code: validation reports it as such, not as a missing exchange rate.
"""

from __future__ import annotations

# fmt: off
# (the codes sixteen to a line, not one per line as the formatter would have them)
ACTIVE = frozenset(
    [
        "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
        "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF",
        "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
        "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
        "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT",
        "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
        "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
        "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
        "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
        "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU",
        "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER",
        "ZAR", "ZMW", "ZWG",
    ]
)

#: withdrawn since 2000 (ISO 4217 List Three) but still found in historical ledgers
WITHDRAWN = frozenset(
    [
        "AZM", "BGL", "BYR", "CSD", "CUC", "CYP", "EEK", "ESP", "FRF", "DEM", "GHC", "HRK", "ITL", "LTL", "LVL", "MGF",
        "MRO", "MTL", "MZM", "NLG", "ROL", "SDD", "SIT", "SKK", "SLL", "SRG", "STD", "TMM", "TRL", "VEB", "VEF", "XEU",
        "YUM", "ZMK", "ZWD", "ZWL", "ZWR",
    ]
)
# fmt: on

ISO_4217 = ACTIVE | WITHDRAWN
