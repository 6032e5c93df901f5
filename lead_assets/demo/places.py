"""Demo geography: the five cities (schema, builder share, subdivisions), street names and suffixes."""
from __future__ import annotations

CITIES: tuple[str, ...] = ("plano", "frisco", "mckinney", "allen", "prosper")

# --------------------------------------------------------------------------------------
# Cities, streets, subdivisions
# --------------------------------------------------------------------------------------

CITY_CFG: dict[str, dict] = {
    "plano": {
        "name": "Plano", "daily": 80, "res": 1300, "com": 45, "builder": 2.0,
        "zips": ["75023", "75024", "75025", "75074", "75075", "75093", "75094"],
        "streets": ["Willow Bend", "Preston Meadow", "Hedgcoxe", "Ohio", "Los Rios", "Park Vista",
                    "Shady Brook", "Mapleshade", "Chimney Rock", "Hunters Glen", "Briarwood",
                    "Lexington", "Rosewood", "Cloverhaven", "Quincy", "Stonehaven", "Cross Bend",
                    "Mill Run", "Russell Creek", "Old Shepard", "Canyon Creek", "Glenhollow",
                    "Kings Ridge", "Ambergate"],
        "arterials": [("W", "Parker", "RD"), ("", "Preston", "RD"), ("", "Legacy", "DR"),
                      ("W", "Spring Creek", "PKWY"), ("", "Coit", "RD"), ("", "Custer", "RD"),
                      ("", "Independence", "PKWY"), ("W", "Park", "BLVD"), ("", "Alma", "DR"),
                      ("N", "Central", "EXPY"), ("", "Dallas", "PKWY")],
        "subdivisions": ["Collin Creek Reserve", "Haggard Farm"],
        "permit_fmt": "plano",
    },
    "frisco": {
        "name": "Frisco", "daily": 62, "res": 1000, "com": 40, "builder": 7.0,
        "zips": ["75033", "75034", "75035", "75036"],
        "streets": ["Stonebrook", "Eldorado Meadow", "Hillcrest Ridge", "Rolater", "Teel",
                    "Panther Creek", "Starwood", "Richwoods", "Plantation", "Lone Star Ranch",
                    "Griffin", "Saddlebrook", "Hidden Pond", "Copper Canyon", "Cypress Point",
                    "Falcon Ridge", "Amberwood", "Heritage", "Brookstone", "Magnolia",
                    "Silver Springs", "Mustang"],
        "arterials": [("", "Preston", "RD"), ("", "Dallas", "PKWY"), ("", "Legacy", "DR"),
                      ("", "Eldorado", "PKWY"), ("", "Main", "ST"), ("", "Stonebrook", "PKWY"),
                      ("", "Warren", "PKWY"), ("", "Gaylord", "PKWY")],
        "subdivisions": ["Fields", "Edgestone", "Hollyhock", "Ladera Frisco"],
        "permit_fmt": "frisco",
    },
    "mckinney": {
        "name": "McKinney", "daily": 55, "res": 900, "com": 35, "builder": 9.0,
        "zips": ["75069", "75070", "75071", "75072"],
        "streets": ["Stacy", "Virginia", "Eldorado", "Hardin", "Lake Forest", "Stonebridge",
                    "Wilmeth", "Ridge", "Hunt", "Tucker", "Heatherwood", "Cottonwood",
                    "Pecan Grove", "Live Oak", "Quail Run", "Fox Hollow", "Bluebonnet",
                    "Prairie View", "Timber Ridge", "Craig Ranch"],
        "arterials": [("W", "University", "DR"), ("", "Eldorado", "PKWY"), ("", "Lake Forest", "DR"),
                      ("S", "Custer", "RD"), ("", "Stacy", "RD"), ("E", "Louisiana", "ST"),
                      ("W", "Virginia", "PKWY"), ("S", "Central", "EXPY")],
        "subdivisions": ["Painted Tree", "Trinity Falls", "Erwin Farms", "Heritage Ranch"],
        "permit_fmt": "mckinney",
    },
    "allen": {
        "name": "Allen", "daily": 33, "res": 550, "com": 20, "builder": 4.0,
        "zips": ["75002", "75013"],
        "streets": ["Bethany", "Exchange", "Ridgeview", "Twin Creeks", "Cottonwood Bend",
                    "Star Creek", "Saint Andrews Bay", "Buckingham", "Greenway", "Montgomery",
                    "Autumn Leaf", "Sunset Ridge", "Cedar Elm", "Wildflower", "Meadow Glen",
                    "Oak Hollow"],
        "arterials": [("W", "McDermott", "DR"), ("E", "Stacy", "RD"), ("", "Watters", "RD"),
                      ("W", "Bethany", "DR"), ("N", "Greenville", "AVE"), ("", "Exchange", "PKWY")],
        "subdivisions": ["Montgomery Ridge", "Twin Creeks North"],
        "permit_fmt": "allen",
    },
    "prosper": {
        "name": "Prosper", "daily": 20, "res": 330, "com": 10, "builder": 14.0,
        "zips": ["75078"],
        "streets": ["Star Trail", "Lakewood", "Windsong", "Saddle Creek", "Whispering Farms",
                    "Gentle Creek", "Shady Oaks", "Eagle Pass", "Cedar Ridge", "Lone Oak",
                    "Hawthorne", "Riverbend"],
        "arterials": [("", "Preston", "RD"), ("E", "First", "ST"), ("W", "Prosper", "TRL"),
                      ("", "Coit", "RD"), ("E", "University", "DR")],
        "subdivisions": ["Windsong Ranch", "Star Trail", "Lakes of Prosper", "Brookhollow"],
        "permit_fmt": "prosper",
    },
}

SUFFIX_FULL: dict[str, str] = {
    "DR": "Drive", "LN": "Lane", "CT": "Court", "ST": "Street", "RD": "Road", "TRL": "Trail",
    "WAY": "Way", "CIR": "Circle", "BLVD": "Boulevard", "PKWY": "Parkway", "PL": "Place",
    "AVE": "Avenue", "CV": "Cove", "XING": "Crossing", "TER": "Terrace", "EXPY": "Expressway",
}
RES_SUFFIXES = ("DR", "DR", "DR", "LN", "LN", "CT", "CT", "TRL", "WAY", "CIR", "PL", "CV", "XING", "TER", "ST")
DIR_FULL: dict[str, str] = {"N": "North", "S": "South", "E": "East", "W": "West"}

NEW_STREET_NAMES = (
    "Saddle Horn", "Juniper Berry", "Lantana", "Starlight", "Blue Sage", "Primrose", "Sagebrush",
    "Red Bud", "Sweetgum", "Bur Oak", "Trailhead", "Pennington", "Canyon Wren", "Harvest Moon",
    "Meadowlark", "Bronco", "Ironwood", "Wheatfield", "Sorrel", "Dove Song", "Indigo", "Big Sky",
    "Arbor Glen", "Shiloh", "Cattail", "Longhorn", "Silverleaf", "Amber Field",
)

