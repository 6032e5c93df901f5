"""Deterministic demo data: building permits for five North-Texas cities plus CAD records.

``generate_demo(root, end_date)`` writes, under ``root``:

* ``landing/<city>/<city>_permits_YYYY-MM-DD.(csv|json)`` -- one file per city per issued day,
  in three different source schemas (Plano/Allen/McKinney CSV, Frisco CSV, Prosper JSON);
* ``cad/collin_cad_properties.csv`` -- appraisal-district property records the permit
  addresses draw from (about 90% of distinct permit addresses have a record).

The feeds carry the noise real ones have (production builders, demolitions, signs, temp power,
vague text, blank valuations and contacts, homeowner permits, duplicate rows, a few malformed
rows, one cp1252-encoded Frisco file). See ``NOISE`` for the rates.

Standard library only; one ``random.Random(seed)`` drives everything, nothing reads the clock,
so the same arguments always give byte-identical files.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import re
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path

CITIES: tuple[str, ...] = ("plano", "frisco", "mckinney", "allen", "prosper")

SOCRATA_HEADER: tuple[str, ...] = (
    "PermitNum", "PermitType", "WorkClass", "Description", "AppliedDate", "IssuedDate",
    "OriginalAddress1", "OriginalCity", "OriginalState", "OriginalZip", "EstProjectCost",
    "ApplicantName", "ContractorCompanyName", "StatusCurrent",
)
FRISCO_HEADER: tuple[str, ...] = (
    "Permit Number", "Permit Type", "Sub Type", "Work Description", "Date Applied",
    "Date Issued", "Site Address", "Zip", "Valuation", "Applicant", "Contractor",
)
PROSPER_KEYS: tuple[str, ...] = (
    "permit_no", "type", "work_class", "description", "issued", "applied", "address", "zip",
    "value", "applicant", "contractor",
)
CAD_HEADER: tuple[str, ...] = (
    "prop_id", "situs_address", "situs_city", "situs_zip", "owner_name", "mail_address",
    "mail_city", "mail_state", "mail_zip", "market_value", "homestead",
)
CAD_FILE = "cad/collin_cad_properties.csv"

# Rates of the row-level noise (probabilities per permit row unless noted).
NOISE: dict[str, float] = {
    "missing_valuation": 0.05,      # blank (CSV) / null (JSON); 15% of the CSV blanks say "N/A"
    "missing_applicant": 0.02,
    "missing_contractor": 0.03,
    "homeowner": 0.05,              # of residential rows of owner-doable work
    "dup_in_file": 0.010,           # row written twice in the same file
    "repeat_next_day": 0.005,       # row written again, identical, in the next day's file
    "unmatched_address": 0.025,     # residential rows at a typo'd / brand-new address
    "builder_lot_in_cad": 0.65,     # share of production-builder lots the CAD already lists
    "non_ascii_description": 0.004,
    "zip_plus4": 0.03,
    "commercial_suite": 0.15,      # commercial rows with a suite the CAD situs lacks
    "upper_description": 0.22,
    "lower_description": 0.04,
}

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

# --------------------------------------------------------------------------------------
# People and companies
# --------------------------------------------------------------------------------------

FIRST_NAMES = (
    "James", "Maria", "Jose", "Michael", "Jennifer", "David", "Linda", "Robert", "Patricia",
    "John", "Elizabeth", "William", "Susan", "Richard", "Jessica", "Thomas", "Sarah", "Daniel",
    "Karen", "Matthew", "Nancy", "Anthony", "Lisa", "Mark", "Priya", "Raj", "Wei", "Mei", "Minh",
    "Thi", "Carlos", "Ana", "Luis", "Sofia", "Ahmed", "Fatima", "Kevin", "Emily", "Brian",
    "Ashley", "Jason", "Amanda", "Ryan", "Megan", "Eric", "Rachel", "Hyun", "Ji", "Olu", "Amara",
    "Chris", "Laura", "Steven", "Heather", "Andrew", "Nicole", "Tyler", "Kayla", "Arjun", "Deepa",
)
LAST_NAMES = (
    "Garcia", "Martinez", "Nguyen", "Patel", "Smith", "Johnson", "Williams", "Brown", "Jones",
    "Lee", "Kim", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill",
    "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Torres",
    "Parker", "Collins", "Edwards", "Stewart", "Flores", "Morris", "Murphy", "Rivera", "Cook",
    "Rogers", "Morgan", "Peterson", "Cooper", "Reed", "Bailey", "Bell", "Gomez", "Kelly",
    "Howard", "Ward", "Cox", "Diaz", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray",
    "Reyes", "Cruz", "Hughes", "Price", "Myers", "Long", "Foster", "Sanders", "Ross", "Morales",
    "Powell", "Sullivan", "Russell", "Ortiz", "Jenkins", "Gutierrez", "Perry", "Butler",
    "Barnes", "Fisher", "Henderson", "Coleman", "Simmons", "Patterson", "Jordan", "Reynolds",
    "Hamilton", "Graham", "Ramos", "Wallace", "Griffin", "Chavez", "Gibson", "Bryant", "Ellis",
    "Stevens", "Murray", "Marshall", "Owens", "Harrison", "Ruiz", "Kennedy", "Wells", "Alvarez",
    "Mendoza", "Castillo", "Olson", "Webb", "Tucker", "Freeman", "Vasquez", "Snyder", "Porter",
    "Mason", "Shaw", "Gordon", "Wagner", "Hunter", "Romero", "Palmer", "Robertson", "Black",
    "Holmes", "Stone", "Meyer", "Boyd", "Warren", "Fox", "Rice", "Moreno", "Schmidt", "Herrera",
    "Medina", "Ryan", "Fernandez", "Weaver", "Daniels", "Stephens", "Gardner", "Payne", "Dunn",
    "Pierce", "Arnold", "Tran", "Spencer", "Grant", "Hansen", "Castro", "Hoffman", "Elliott",
    "Knight", "Bradley", "Shah", "Reddy", "Chen", "Wang", "Li", "Zhang", "Singh", "Kumar", "Rao",
    "Choi", "Park", "Pham", "Le", "Vo", "Huynh", "Okafor", "Adeyemi", "Haddad", "Cohen",
)
ACCENTED_NAMES = ("Peña", "Muñoz", "Ibáñez", "Núñez", "Gómez", "Hernández", "Pérez", "Chávez", "Ordóñez")

PRODUCTION_BUILDERS = (
    "Lennar Homes of Texas", "D.R. Horton - Texas, Ltd", "Highland Homes", "Pulte Homes of Texas",
    "Perry Homes", "Toll Brothers", "David Weekley Homes", "Taylor Morrison of Texas",
    "M/I Homes of DFW", "Meritage Homes of Texas", "Beazer Homes Texas", "Shaddock Homes",
)
BUILDER_CAD_OWNER = {
    "Lennar Homes of Texas": "LENNAR HOMES OF TEXAS LAND & CONSTRUCTION LTD",
    "D.R. Horton - Texas, Ltd": "D R HORTON - TEXAS LTD",
    "Highland Homes": "HIGHLAND HOMES - DALLAS LLC",
    "Pulte Homes of Texas": "PULTE HOMES OF TEXAS LP",
    "Perry Homes": "PERRY HOMES LLC",
    "Toll Brothers": "TOLL DALLAS TX LLC",
    "David Weekley Homes": "WEEKLEY HOMES LLC",
    "Taylor Morrison of Texas": "TAYLOR MORRISON OF TEXAS INC",
    "M/I Homes of DFW": "M/I HOMES OF DFW LLC",
    "Meritage Homes of Texas": "MERITAGE HOMES OF TEXAS LLC",
    "Beazer Homes Texas": "BEAZER HOMES TEXAS LP",
    "Shaddock Homes": "SHADDOCK HOMES LTD",
}
CUSTOM_BUILDERS = (
    "Hearthstone Custom Homes", "Red Oak Custom Homes LLC", "Prestige Craft Builders",
    "Brookhaven Design Build", "J. Anthony Homes", "Stonegate Custom Homes", "Kessler Fine Homes",
    "Castlerock Custom Builders", "Timberline Residential LLC",
)
CONTRACTORS: dict[str, tuple[str, ...]] = {
    "pool": ("Lone Star Custom Pools", "Blue Haven Pools & Spas", "Crystal Waters Pool Co",
             "Riverbend Pools LLC", "Pool Builders of North Texas", "Aqua Tech Pools",
             "Legacy Pools & Outdoor Living", "Morgan Custom Pools", "Backyard Oasis Pools"),
    "outdoor": ("Texas Outdoor Living LLC", "Patio Covers of DFW", "Shade Tree Pergolas",
                "Backyard Retreats Inc", "North Texas Decks & Patios", "Legacy Pools & Outdoor Living",
                "Cedar Craft Outdoor"),
    "fence": ("Lone Star Fence & Gate", "Collin County Fence Co", "Cedar Pro Fence LLC",
              "Iron Works Fencing", "Frisco Fence & Deck", "Good Neighbor Fence Co"),
    "roof": ("Texas Premier Roofing", "Storm Guard Roofing & Construction", "Bluebonnet Roofing LLC",
             "Integrity Roofing & Exteriors", "Peak Roofing DFW", "Hail Pros Roofing",
             "Red River Roofing", "Apex Roofing Solutions"),
    "concrete": ("DFW Concrete Works", "Solid Rock Flatwork LLC", "Precision Driveways",
                 "North Texas Concrete Co", "Legacy Flatwork"),
    "siding": ("Hardie Pros of Texas", "Exterior Renovations DFW", "Lone Star Siding & Windows",
               "Clearview Exteriors"),
    "windows": ("Window World of Dallas", "Lone Star Siding & Windows", "Clearview Exteriors",
                "Renewal Windows North Texas", "Pella Windows & Doors of DFW"),
    "hvac": ("Collin County Air", "Frisco Comfort Heating & Air", "Polar Bear AC & Heating",
             "Legacy Air Services LLC", "Star Climate Solutions", "North Star Mechanical",
             "Elite Air of Texas", "Cool Breeze HVAC"),
    "plumbing": ("Benjamin's Plumbing", "Plano Plumbing Co", "Rooter Pros DFW", "Texas Pipe Works",
                 "Clear Flow Plumbing LLC", "Sunrise Plumbing & Drains"),
    "electrical": ("Bright Spark Electric", "Volt Electric Services", "Mister Sparky of Plano",
                   "Current Electrical Contractors", "Power Up Electric LLC", "Generator Pros Texas"),
    "solar": ("Sunpower by Lone Star Solar", "Bright Planet Solar", "Texas Solar Integrators",
              "Freedom Solar Power", "Sunrun Installation Services"),
    "foundation": ("Dalton Foundation Repair", "Solid Ground Foundation Repair",
                   "Texas Pier & Beam", "Foundation Experts of DFW", "Level Right Foundations"),
    "remodel": ("Craftsman Remodeling DFW", "Kitchen & Bath Masters", "Renew Home Remodeling",
                "Design Build Texas", "Heritage Renovations LLC", "Brookhaven Design Build"),
    "addition": ("Design Build Texas", "Heritage Renovations LLC", "Red Oak Custom Homes LLC",
                 "Additions Plus DFW", "Brookhaven Design Build"),
    "irrigation": ("Green Acres Irrigation", "Sprinkler Pros DFW", "Lone Star Landscape & Irrigation"),
    "demolition": ("Dirt Work Demolition LLC", "Haul Away Demo", "Pool Removal Pros",
                   "North Texas Wrecking Co"),
    "sign": ("Sign Solutions of Texas", "Vivid Signs DFW", "Lone Star Sign Co", "Fastsigns of Plano"),
    "commercial": ("Rogers-O'Brien Construction", "Balfour Beatty Construction", "Alpha Business Builders",
                   "Sterling Commercial Construction", "Buckner Construction Group", "JPI Contractors"),
    "commercial_mech": ("Gowan Commercial HVAC", "TDIndustries", "Crossroads Mechanical",
                        "North Star Mechanical", "Air Systems Commercial"),
    "commercial_elec": ("Bright Commercial Electric", "Prime Electric Services", "Wilson Electric DFW",
                        "Volt Electric Services"),
    "commercial_plumb": ("Commercial Plumbing Solutions", "Texas Pipe Works", "Grease Trap Specialists",
                         "Rooter Pros DFW"),
    "commercial_pool": ("Aquatic Renovation Systems", "Commercial Pool Co of Texas", "Lone Star Custom Pools",
                        "Splash Zone Commercial Pools"),
    "temp": ("Temp Power Services LLC", "Bright Spark Electric", "Current Electrical Contractors"),
    "general": ("Handyman Heroes", "All Pro Home Services", "Premier Home Services LLC",
                "Craftsman Remodeling DFW"),
}
EXPEDITORS = ("Permit Place DFW", "Texas Permit Expediters", "Permits R Us LLC")
TENANTS = (
    "Starbucks", "Chick-fil-A", "Orangetheory Fitness", "Great Clips", "Kumon", "Heartland Dental",
    "Torchy's Tacos", "Tiff's Treats", "Mattress Firm", "Verizon", "Crumbl Cookies", "Salata",
    "Raising Cane's", "Tropical Smoothie Cafe", "European Wax Center", "The Joint Chiropractic",
    "Chase Bank", "Kumon Learning Center", "Pho Saigon", "Sprouts Farmers Market", "Jersey Mike's",
)
APARTMENT_NAMES = (
    "Legacy Heights", "Preston Park", "Watters Creek", "Station Lofts", "Craig Ranch", "Frisco Square",
    "Windsong Village", "Stonebriar Commons", "Parkside at Legacy", "The Reserve at Eldorado",
)
COM_OWNER_WORDS = (
    "PRESTON", "LEGACY", "STONEBRIAR", "WATTERS", "ELDORADO", "PARKWOOD", "CUSTER", "LAKESIDE",
    "WINDHAVEN", "TOWNE", "CRAIG RANCH", "GATEWAY", "SUMMIT", "HERITAGE",
)
RES_LLC_OWNERS = (
    "PRESTON RIDGE HOLDINGS LLC", "PROGRESS RESIDENTIAL BORROWER 6 LLC", "AMH 2015-2 BORROWER LLC",
    "TAH 2017-1 BORROWER LLC", "SFR JV-2 PROPERTY LLC", "LONE STAR HOMES RENTAL LLC",
    "NORTH TEXAS SFR I LLC", "BLUEBONNET PROPERTIES LLC", "VINEBROOK HOMES LLC",
)
OTHER_TX = (
    ("DALLAS", "75201"), ("DALLAS", "75230"), ("IRVING", "75038"), ("RICHARDSON", "75080"),
    ("HOUSTON", "77002"), ("AUSTIN", "78701"), ("SOUTHLAKE", "76092"), ("ARLINGTON", "76010"),
    ("FORT WORTH", "76102"), ("SAN ANTONIO", "78205"), ("CARROLLTON", "75006"), ("LEWISVILLE", "75067"),
)
OUT_OF_STATE = (
    ("IRVINE", "CA", "92618"), ("SCOTTSDALE", "AZ", "85251"), ("CHICAGO", "IL", "60601"),
    ("NEW YORK", "NY", "10001"), ("DENVER", "CO", "80202"), ("ATLANTA", "GA", "30303"),
    ("CHARLOTTE", "NC", "28202"), ("SAN JOSE", "CA", "95134"), ("OKLAHOMA CITY", "OK", "73102"),
    ("SEATTLE", "WA", "98101"), ("MIAMI", "FL", "33131"), ("TULSA", "OK", "74103"),
)

# --------------------------------------------------------------------------------------
# Permit categories: weight (% of rows), permit types, texts, valuation range, who pulls it
# --------------------------------------------------------------------------------------

# w: weight (percent of rows, before the per-city production-builder share). Names that match
# the lead taxonomy are the intended labels; the others are noise or non-leads.
# kind: which property a permit lands on -- "res", "res_hi" (skews to expensive homes),
# "lot" (production-builder lot), "com:<kinds>" (commercial property of one of the kinds).
CATEGORIES: dict[str, dict] = {
    "pool": {
        "w": 5.5, "kind": "res_hi", "val": (38000, 165000), "lag": (5, 35), "trade": "pool",
        "types": [("Residential Pool", "New"), ("Residential Pool", "New"), ("Residential Pool", "Alteration")],
        "descs": [
            "New in-ground gunite pool and spa", "NEW GUNITE POOL W/ ATTACHED SPA",
            "Residential swimming pool - gunite, {sqft_s} sf, with spa and water feature",
            "In-ground fiberglass pool", "Fiberglass pool install w/ equipment pad",
            "Pool remodel - replaster and new tile/coping", "Replaster existing pool, new waterline tile",
            "Pool and spa with sun shelf, gas line to pool heater",
            "Swimming pool - new {pl}x{pw} freeform gunite", "Inground pool w/ spa and outdoor shower",
            "Pool resurface and equipment replacement", "Add spa to existing pool",
            "New pool only, no spa", "Plunge pool with raised spa and fire bowls",
            "Gunite pool & spa per plans, auto cover",
        ],
    },
    "outdoor_living": {
        "w": 5.5, "kind": "res_hi", "val": (6000, 85000), "lag": (3, 25), "trade": "outdoor",
        "types": [("Residential Patio Cover", "New"), ("Residential Accessory Structure", "New"),
                  ("Residential Building", "Alteration")],
        "descs": [
            "Patio cover {dim} attached to house", "New cedar pergola over existing patio",
            "Outdoor kitchen with grill and sink", "Covered patio addition w/ fireplace",
            "Build {dim} freestanding pergola", "Composite deck {dim}",
            "Attached patio cover, shingled roof to match house",
            "Outdoor living area - cabana, outdoor kitchen, fireplace", "Aluminum patio cover",
            "Wood deck replacement", "Covered patio w/ ceiling fan & lights",
            "Outdoor fireplace and kitchen island", "Extend covered patio {dim}",
        ],
    },
    "fence": {
        "w": 6.5, "kind": "res", "val": (2500, 28000), "lag": (0, 7), "trade": "fence",
        "types": [("Fence", "New"), ("Fence", "Replacement"), ("Fence", "Repair")],
        "descs": [
            "Replace {lf} LF cedar fence, {ht}' board on board", "Cedar fence replacement",
            "New 6ft wrought iron fence", "Retaining wall and fence along rear property line",
            "FENCE - REPLACE EXISTING 8' CEDAR W/ STEEL POSTS", "Wood privacy fence {lf} lf",
            "Ornamental iron fence and gate", "Retaining wall {ht}' with fence on top",
            "Fence repair - storm damage, {lf} LF", "Board on board fence w/ cap & trim",
            "Replace side yard fence and gate",
        ],
    },
    "roof": {
        "w": 10.0, "kind": "res", "val": (8000, 48000), "lag": (0, 4), "trade": "roof",
        "types": [("Residential Roof", "Replacement"), ("Residential Roof", "Repair"),
                  ("Residential Building", "Repair")],
        "descs": [
            "Reroof - remove and replace shingles, {sq} squares", "Hail damage roof replacement",
            "RE-ROOF COMP SHINGLE 30 YR", "Tear off and reroof, architectural shingles",
            "Standing seam metal roof", "Roof replacement - insurance claim (hail)",
            "Residential re-roof class 4 impact resistant shingles", "Replace decking and shingles",
            "Reroof w/ metal roof over porch", "Roof - tear off 1 layer, replace felt and shingles",
            "Re-roof {sq} sq, same material",
        ],
    },
    "concrete": {
        "w": 3.0, "kind": "res", "val": (3000, 25000), "lag": (0, 10), "trade": "concrete",
        "types": [("Residential Flatwork", "Replacement"), ("Right of Way", "Repair"),
                  ("Residential Flatwork", "New")],
        "descs": [
            "Driveway replacement {sqft_s} sf", "Replace driveway and front walk",
            "Concrete flatwork - back patio extension", "Sidewalk replacement in ROW",
            "Remove and replace driveway approach", "Flatwork: driveway extension",
            "New concrete patio slab {dim}", "Sidewalk and driveway repair",
        ],
    },
    "siding": {
        "w": 2.0, "kind": "res", "val": (9000, 60000), "lag": (0, 7), "trade": "siding",
        "types": [("Residential Building", "Repair"), ("Residential Building", "Replacement")],
        "descs": [
            "Hardie siding replacement", "Replace siding w/ James Hardie fiber cement",
            "Siding repair - replace rotted wood siding w/ hardie plank",
            "Exterior siding and trim replacement", "Remove wood siding, install HardiePlank lap siding",
        ],
    },
    "windows": {
        "w": 3.0, "kind": "res", "val": (5000, 45000), "lag": (0, 7), "trade": "windows",
        "types": [("Residential Building", "Replacement"), ("Residential Building", "Alteration")],
        "descs": [
            "Window replacement - {n} windows, same size", "Replace {n} windows and 1 patio door",
            "Door and window replacement", "Replace windows (no structural changes)",
            "Energy efficient window replacement - Low E vinyl", "Replace {n} windows like for like",
        ],
    },
    "hvac": {
        "w": 9.0, "kind": "res", "val": (6000, 24000), "lag": (0, 3), "trade": "hvac",
        "types": [("Residential Mechanical", "Replacement"), ("Residential Mechanical", "Replacement"),
                  ("Residential Mechanical", "New")],
        "descs": [
            "HVAC changeout {ton} ton", "AC replacement {ton} ton, {seer} SEER",
            "Replace {ton} ton condenser and coil", "Changeout: furnace and AC, like for like",
            "Replace gas furnace {btu}k BTU in attic", "Mini split install - garage",
            "Ductless mini split system, {n} heads", "HVAC system replacement, 2 systems ({ton} ton & 3 ton)",
            "Heat pump replacement {ton} ton", "MECHANICAL - REPLACE AC UNIT",
            "Install new ductwork and {ton} ton system",
            "Central heat and air replacement, like for like", "Change out {ton} ton heat and air system",
        ],
    },
    "plumbing": {
        "w": 7.0, "kind": "res", "val": (900, 18000), "lag": (0, 3), "trade": "plumbing",
        "types": [("Residential Plumbing", "Replacement"), ("Residential Plumbing", "Repair"),
                  ("Residential Plumbing", "New")],
        "descs": [
            "Water heater replacement {gal} gal gas", "Replace 50 gal water heater in garage",
            "Tankless water heater install", "Whole house repipe PEX", "Gas line for outdoor kitchen",
            "Gas line to BBQ grill and fire pit", "Sewer line repair - yard line",
            "Replace sewer line under slab", "Water service line replacement",
            "Gas leak repair, pressure test", "Install water softener loop",
        ],
    },
    "electrical": {
        "w": 5.5, "kind": "res", "val": (800, 22000), "lag": (0, 3), "trade": "electrical",
        "types": [("Residential Electrical", "Alteration"), ("Residential Electrical", "Replacement"),
                  ("Residential Electrical", "New")],
        "descs": [
            "Panel upgrade 200 amp", "Upgrade electrical service to 200A", "Replace electrical panel",
            "EV charger circuit - 60A 240V in garage", "Install Level 2 EV charger (Tesla wall connector)",
            "Whole-home generator - Generac {gkw}kW with transfer switch",
            "Standby generator install w/ gas line", "Meter base replacement",
            "200A service upgrade & new meter can", "New subpanel in garage",
        ],
    },
    "solar": {
        "w": 2.5, "kind": "res", "val": (14000, 52000), "lag": (2, 14), "trade": "solar",
        "types": [("Residential Electrical", "New"), ("Residential Solar", "New")],
        "descs": [
            "Solar PV panels roof mounted {kw}kW", "Install roof mounted solar PV system {kw} kW, {n2} modules",
            "Rooftop solar photovoltaic system {kw} kW DC",
            "Solar panel installation with battery storage (Powerwall)", "SOLAR - {n2} PANELS {kw}KW",
        ],
    },
    "foundation": {
        "w": 3.0, "kind": "res", "val": (4000, 35000), "lag": (0, 5), "trade": "foundation",
        "types": [("Residential Building", "Repair"), ("Residential Foundation", "Repair")],
        "descs": [
            "Foundation repair - {n2} exterior piers", "Foundation repair, {n2} pressed pilings",
            "Pier and beam foundation repair, replace sill plates", "Slab leveling - install {n2} piers",
            "Foundation underpinning, {n2} bell bottom piers", "Pier and beam re-shim and leveling",
        ],
    },
    "new_construction": {
        "w": 1.3, "kind": "res_hi", "val": (450000, 2200000), "lag": (20, 70), "trade": "custom",
        "types": [("Residential Building", "New"), ("Residential New", "New")],
        "descs": [
            "New custom single family residence", "New 2-story residence with covered patio and pool bath",
            "NEW CUSTOM HOME {sqft_l} SF W/ ATTACHED 3 CAR GARAGE",
            "New single family home - custom, {sqft_l} sq ft",
            "Tear down and rebuild: new custom SFR", "New residence w/ detached casita",
        ],
    },
    "remodel": {
        "w": 4.0, "kind": "res", "val": (12000, 180000), "lag": (3, 21), "trade": "remodel",
        "types": [("Residential Building", "Alteration"), ("Residential Remodel", "Alteration")],
        "descs": [
            "Kitchen remodel - new cabinets, countertops, relocate sink",
            "Bathroom remodel - master bath, tile shower", "Interior remodel, remove non-load bearing wall",
            "Master bath remodel, convert tub to walk-in shower", "Kitchen and bath remodel",
            "Interior remodel - {sqft_s} sf, new flooring, drywall", "Remodel existing kitchen; no structural",
            "Guest bathroom remodel",
        ],
    },
    "addition": {
        "w": 2.0, "kind": "res_hi", "val": (35000, 260000), "lag": (10, 40), "trade": "addition",
        "types": [("Residential Building", "Addition"), ("Residential Addition", "Addition")],
        "descs": [
            "Room addition {sqft_s} sf", "Second-story addition over garage",
            "Garage conversion to game room", "Conditioned Space addition", "Partial demo for room addition",
            "Master bedroom addition", "Add {sqft_s} sf conditioned space - sunroom",
            "2nd story addition - game room and bath",
            "New detached 2-car garage, hip roof, roof height 14 ft", "New detached carport {dim}",
        ],
    },
    # Trade permits whose text describes the whole project, not the trade.
    "companion": {
        "w": 2.0, "kind": "res", "val": (2000, 25000), "lag": (2, 20), "trade": "companion",
        "types": [("Residential Electrical", "New"), ("Residential Plumbing", "New"),
                  ("Residential Mechanical", "New")],
        "descs": [
            "New single family residence", "New in-ground pool and spa", "Kitchen remodel",
            "Room addition", "Outdoor kitchen w/ covered patio", "Master bath remodel",
            "Pool/spa equipment and bonding", "Garage conversion",
        ],
    },
    "irrigation": {
        "w": 1.5, "kind": "res", "val": (2000, 9000), "lag": (0, 5), "trade": "irrigation",
        "types": [("Irrigation", "New"), ("Irrigation", "Repair")],
        "descs": ["Lawn sprinkler system", "New irrigation system {n2} zones", "Backflow preventer replacement",
                  "Irrigation - add zones, replace controller"],
    },
    "accessory": {
        "w": 1.0, "kind": "res", "val": (3000, 30000), "lag": (2, 14), "trade": "general",
        "types": [("Residential Accessory Structure", "New")],
        "descs": ["Storage shed 10x12", "Accessory building - workshop", "Detached storage building {dim}",
                  "Playhouse / shed on skids"],
    },
    "commercial_pool": {
        "w": 0.5, "kind": "com:apartment,hoa", "val": (40000, 350000), "lag": (10, 45), "trade": "commercial_pool",
        "types": [("Commercial Pool", "Alteration"), ("Commercial Pool", "New")],
        "descs": [
            "Apartment complex pool - replaster and new deck", "Commercial pool renovation at {apt} apartments",
            "HOA amenity center pool - new", "Amenity center pool and splash pad",
            "Public pool remodel - HOA", "Resurface apartment pool and replace pool equipment",
        ],
    },
    "commercial_hvac": {
        "w": 1.5, "kind": "com:retail,office,restaurant", "val": (15000, 180000), "lag": (2, 14),
        "trade": "commercial_mech",
        "types": [("Commercial Mechanical", "Replacement"), ("Commercial Mechanical", "Alteration")],
        "descs": [
            "Rooftop unit replacement ({n}) at retail center", "Replace {ton_c} ton RTU - {tenant}",
            "Commercial HVAC - replace 2 RTUs and curbs", "RTU changeout like for like, suite {suite}",
            "Office building chiller replacement", "Replace {n} rooftop units at office building",
        ],
    },
    "commercial_electrical": {
        "w": 1.5, "kind": "com:retail,office,restaurant,apartment", "val": (8000, 250000), "lag": (2, 14),
        "trade": "commercial_elec",
        "types": [("Commercial Electrical", "Alteration"), ("Commercial Electrical", "New")],
        "descs": [
            "Tenant electrical - {tenant}", "Service upgrade at office building, 800A",
            "Commercial electrical: new lighting and circuits for {tenant}", "Parking lot lighting replacement",
            "EV charging stations ({n}) at retail center",
        ],
    },
    "commercial_plumbing": {
        "w": 1.2, "kind": "com:restaurant,retail,office", "val": (6000, 120000), "lag": (2, 14),
        "trade": "commercial_plumb",
        "types": [("Commercial Plumbing", "New"), ("Commercial Plumbing", "Alteration")],
        "descs": [
            "Restaurant grease trap install - {tenant}", "Replace 1000 gal grease interceptor",
            "Commercial restroom plumbing remodel", "Backflow preventer replacement - retail center",
            "Commercial water heater replacement - {tenant}",
        ],
    },
    "commercial_other": {
        "w": 3.0, "kind": "com:retail,office,restaurant", "val": (60000, 3500000), "lag": (15, 60),
        "trade": "commercial",
        "types": [("Commercial Building", "Alteration"), ("Commercial Building", "New"),
                  ("Commercial Remodel", "Alteration")],
        "descs": [
            "Tenant finish-out - {tenant}", "Interior finish out for {tenant}, suite {suite}",
            "Interior remodel, occupancy group B, suite {suite}", "Office remodel, 4th floor",
            "Commercial shell building {sqft_c} sf", "New retail shell building", "White box finish out",
            "Commercial remodel - {tenant}", "New medical office building - shell only",
        ],
    },
    "demolition": {
        "w": 1.5, "kind": "res", "val": (1000, 40000), "lag": (0, 7), "trade": "demolition",
        "types": [("Demolition", "Demolition")],
        "descs": ["Demo existing pool", "Demolish detached garage", "Demolition of single family residence",
                  "Interior demo only - non structural", "Remove and fill in swimming pool", "Demo shed and slab"],
    },
    "sign": {
        "w": 2.0, "kind": "com:retail,office,restaurant,apartment", "val": (1500, 25000), "lag": (2, 10),
        "trade": "sign",
        "types": [("Sign", "New"), ("Sign", "Replacement")],
        "descs": ["Monument sign", "wall sign - Starbucks", "Wall sign - {tenant}",
                  "Illuminated channel letters - {tenant}", "Replace sign faces on monument sign",
                  "Temporary banner sign"],
    },
    "temp_power": {
        "w": 1.5, "kind": "lot", "val": (300, 2500), "lag": (0, 3), "trade": "temp",
        "types": [("Temporary Power", "New")],
        "descs": ["Temp pole for construction", "temporary electric service", "TEMP POWER POLE - LOT {lot} BLK {blk}",
                  "Temporary power for new home construction", "Temp service for construction trailer",
                  "Home builders loop", "Builder's loop - lot {lot} blk {blk}"],
    },
    # Government, telecom and event work: not leads (LABELLING.md), whoever files them.
    "public": {
        "w": 0.8, "kind": "com:office,retail", "val": (2000, 90000), "lag": (1, 10), "trade": "commercial",
        "types": [("Commercial Building", "Alteration"), ("Commercial Building", "New")],
        "descs": ["Antenna and equipment upgrade on existing cell tower", "Temporary tent and stage for festival",
                  "Bleachers and event booths, special event", "Telecommunication tower - replace 3 antennas"],
    },
    "vague": {
        "w": 3.0, "kind": "res", "val": (500, 40000), "lag": (0, 14), "trade": "general",
        "types": [("Residential Building", "Alteration"), ("Residential Building", "Repair"),
                  ("Miscellaneous", "Repair")],
        "descs": ["misc", "see plans", "repair per inspection", "Residential", "", "", "per plans", "Res",
                  "work per scope", "see attached", "as per plans submitted", "Revision", "MISC REPAIRS"],
    },
}
# Production-builder new homes; its weight is per city (CITY_CFG[...]["builder"]).
BUILDER_CAT = {
    "kind": "lot", "val": (180000, 520000), "lag": (14, 45), "trade": "builder",
    "types": [("Residential Building", "New"), ("Residential New", "New")],
    "descs": [
        "NEW SFR PLAN {plan} ELEV {elev} LOT {lot} BLK {blk}", "New Single Family Residence",
        "New Single Family Residence - Plan {plan}, Lot {lot}, Block {blk}",
        "SFR - {sub} Ph {ph} Lot {lot} Blk {blk} Plan {plan}{elev}",
        "New single family dwelling, production home, plan {plan}", "NEW RESIDENTIAL - {sqft_l} SF 2 STORY",
        "New Single Family Residence", "NEW SFR",
        "New 1-story single-family residence, attached garage, covered porch. **VOL BUILD PROJECT**",
    ],
}
HOMEOWNER_OK = frozenset({"fence", "outdoor_living", "concrete", "remodel", "addition", "plumbing",
                          "electrical", "roof", "windows", "siding", "accessory", "irrigation",
                          "demolition", "vague"})
# Cities whose demo building projects also file trade permits under the same number.
PROJECT_CITIES = ("plano", "allen")
PROJECT_CATEGORIES = ("new_construction", "addition", "remodel", "pool", "builder")
PERMIT_GROUP = {"Mechanical": "M", "Electrical": "E", "Plumbing": "P", "Sign": "S", "Solar": "E",
                "Temporary": "E", "Pool": "B", "Irrigation": "P"}

# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _slots(rng: random.Random) -> dict[str, object]:
    dims = (10, 12, 14, 16, 18, 20, 24, 30)
    return {
        "sqft_s": rng.choice((180, 240, 320, 400, 450, 520, 600, 750, 900)),
        "sqft_l": rng.randrange(2800, 7800, 50),
        "sqft_c": rng.randrange(6000, 42000, 500),
        "pl": rng.choice((14, 15, 16, 18, 20)), "pw": rng.choice((28, 30, 32, 36, 40)),
        "dim": f"{rng.choice(dims)}x{rng.choice(dims)}",
        "lf": rng.randrange(40, 320, 5), "ht": rng.choice((6, 6, 8, 4)),
        "sq": rng.randrange(18, 65), "n": rng.randrange(2, 16), "n2": rng.randrange(6, 28),
        "ton": rng.choice((2, 2.5, 3, 3.5, 4, 4, 5)), "ton_c": rng.choice((7.5, 10, 12.5, 15, 20, 25)),
        "seer": rng.choice((14, 15, 16, 17, 18, 20)), "btu": rng.choice((60, 80, 100, 120)),
        "gal": rng.choice((40, 50, 50, 75)), "gkw": rng.choice((14, 18, 22, 24, 26)),
        "kw": rng.choice(("5.6", "6.4", "7.2", "8.2", "9.6", "10.8", "12.4", "14.0")),
        "tenant": rng.choice(TENANTS), "apt": rng.choice(APARTMENT_NAMES),
        "suite": rng.choice((100, 110, 120, 150, 200, 210, 300, 400, 500)),
        "plan": rng.choice((1850, 2130, 2450, 2680, 2975, 3155, 3380, 3620, 4015, 4410)),
        "elev": rng.choice("ABCD"), "ph": rng.choice((1, 2, 2, 3, 4)),
        "lot": 0, "blk": "A", "sub": "",
    }


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _situs(p: dict) -> str:
    parts = [str(p["num"])]
    if p["predir"]:
        parts.append(p["predir"])
    parts += [p["street"].upper(), p["suffix"]]
    if p["unit"]:
        parts += ["UNIT", str(p["unit"])]
    return " ".join(parts)


def _render_street(rng: random.Random, num, predir: str, street: str, suffix: str, unit, suite=None) -> str:
    """A permit-clerk rendering of an address: mixed suffix/direction styles and case."""
    r = rng.random()
    suf = SUFFIX_FULL[suffix] if r < 0.45 else (suffix.title() if r < 0.85 else suffix + ".")
    parts = [str(num)]
    if predir:
        r = rng.random()
        parts.append(DIR_FULL[predir] if r < 0.4 else (predir + "." if r < 0.5 else predir))
    parts += [street, suf]
    if unit:
        parts.append(rng.choice(("Unit {}", "Unit {}", "UNIT {}", "#{}", "# {}")).format(unit))
    if suite:
        parts.append(rng.choice(("Ste {}", "Suite {}", "STE {}", "#{}")).format(suite))
    text = " ".join(parts)
    r = rng.random()
    if r < 0.35:
        text = text.upper()
    elif r < 0.43:
        text = text.lower()
    else:
        text = " ".join(w if w[:1].isdigit() or w.startswith("#") else w[:1].upper() + w[1:] for w in text.split(" "))
    r = rng.random()
    if r < 0.03:
        text = text.replace(" ", "  ", 1)
    elif r < 0.06:
        text += " "
    return text


def _natural_name(p: dict) -> str:
    return f"{p['first']} {p['last']}"


# --------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------


class _Demo:
    def __init__(self, end_date: date, days: int, seed: int):
        if days < 1:
            raise ValueError("days must be >= 1")
        self.rng = random.Random(seed)
        self.end_date = end_date
        self.days = days
        self.start_date = end_date - timedelta(days=days - 1)
        self.props: list[dict] = []                 # CAD records, in creation order
        self.by_city: dict[str, dict[str, list[dict]]] = {}
        self.cad_keys: dict[str, set[str]] = {c: set() for c in CITIES}
        self.lots: dict[str, list[dict]] = {c: [] for c in CITIES}
        self.lot_streets: dict[str, list[list]] = {}
        self.unmatched_seq = 0
        # Trade permits of multi-permit projects come from their own generator, so adding them
        # leaves every other demo permit exactly as it was.
        self.sib_rng = random.Random(seed + 11)
        self.seq = {c: 1000 + self.start_date.timetuple().tm_yday * 31 + i * 517 for i, c in enumerate(CITIES)}
        self._make_properties()

    # ---- CAD ---------------------------------------------------------------------------

    def _owner(self, kind: str) -> dict:
        rng = self.rng
        first, last = _person(rng)
        o = {"first": first, "last": last, "type": "person"}
        r = rng.random()
        if kind == "res":
            if r < 0.055:
                o["type"], o["owner"] = "trust", rng.choice((
                    f"{last.upper()} FAMILY TRUST", f"{last.upper()} FAMILY LIVING TRUST",
                    f"{last.upper()} REVOCABLE TRUST", f"{first.upper()} {last.upper()} TRUST"))
            elif r < 0.10:
                o["type"] = "llc"
                o["owner"] = rng.choice(RES_LLC_OWNERS) if rng.random() < 0.6 else rng.choice((
                    f"{last.upper()} INVESTMENTS LLC", f"{rng.choice(COM_OWNER_WORDS)} RIDGE HOLDINGS LLC",
                    f"{last.upper()} PROPERTIES LLC"))
            elif r < 0.105:
                o["type"], o["owner"] = "blank", ""
            else:
                f2, _ = _person(rng)
                r2 = rng.random()
                if r2 < 0.42:
                    o["owner"] = f"{last.upper()}, {first.upper()} & {f2.upper()}"
                elif r2 < 0.80:
                    o["owner"] = f"{last.upper()}, {first.upper()}"
                elif r2 < 0.92:
                    o["owner"] = f"{last.upper()} {first.upper()} {rng.choice('ABCDEJKLMRST')}"
                else:
                    l2 = rng.choice(LAST_NAMES)
                    o["owner"] = f"{last.upper()}, {first.upper()} & {l2.upper()}, {f2.upper()}"
        return o

    def _mailing(self, p: dict, absentee: bool) -> None:
        rng = self.rng
        if not absentee:
            p.update(mail_address=_situs(p), mail_city=p["cad_city"], mail_state="TX", mail_zip=p["zip"])
            return
        street = rng.choice(("MAIN ST", "COMMERCE ST", "ELM ST", "OAK LAWN AVE", "MARKET ST", "CONGRESS AVE",
                             "PEACHTREE RD", "BROADWAY", "LAKE SHORE DR", "SPRING VALLEY RD"))
        addr = (f"PO BOX {rng.randrange(100, 99999)}" if rng.random() < 0.25
                else f"{rng.randrange(100, 19999)} {street}" + (f" STE {rng.randrange(100, 900)}" if rng.random() < 0.3 else ""))
        if rng.random() < 0.55:
            city, zip_ = rng.choice(OTHER_TX)
            state = "TX"
        else:
            city, state, zip_ = rng.choice(OUT_OF_STATE)
        p.update(mail_address=addr, mail_city=city, mail_state=state, mail_zip=zip_)

    def _new_prop(self, city: str, kind: str, num, predir, street, suffix, unit=None, **extra) -> dict:
        p = {"city": city, "cad_city": city.upper(), "kind": kind, "num": num, "predir": predir,
             "street": street, "suffix": suffix, "unit": unit, **extra}
        self.cad_keys[city].add(_situs(p))
        self.props.append(p)
        return p

    def _make_properties(self) -> None:
        rng = self.rng
        for city in CITIES:
            cfg = CITY_CFG[city]
            streets = []
            for name in cfg["streets"]:
                for _ in range(rng.choice((2, 3, 3, 4))):
                    cand = (rng.choice(("", "", "", "", "", "", "N", "S", "E", "W")), name, rng.choice(RES_SUFFIXES))
                    if cand not in streets:
                        streets.append(cand)
            zip_of = {s: rng.choice(cfg["zips"]) for s in streets}
            res = []
            while len(res) < cfg["res"]:
                predir, name, suf = rng.choice(streets)
                num = rng.randrange(100, 9999)
                unit = rng.randrange(1, 25) if rng.random() < 0.02 else None
                if _situs({"num": num, "predir": predir, "street": name, "suffix": suf, "unit": unit}) in self.cad_keys[city]:
                    continue
                p = self._new_prop(city, "res", num, predir, name, suf, unit, zip=zip_of[(predir, name, suf)])
                o = self._owner("res")
                p.update(o)
                # value: lognormal-ish around ~520k, clipped to the spec range
                p["value"] = int(min(2500000, max(180000, rng.lognormvariate(math.log(520000), 0.42))) // 10 * 10)
                absentee = (o["type"] == "llc") or rng.random() < 0.145
                self._mailing(p, absentee)
                p["homestead"] = "N" if absentee or o["type"] == "llc" else ("Y" if rng.random() < 0.93 else "N")
                res.append(p)
            # a few arterials with condo units (e.g. "812 W PARKER RD UNIT 4")
            com = []
            com_kinds = ("retail", "retail", "retail", "office", "office", "restaurant", "restaurant", "apartment", "hoa")
            while len(com) < cfg["com"]:
                predir, name, suf = rng.choice(cfg["arterials"])
                num = rng.randrange(1000, 8999, 1 if rng.random() < 0.3 else 10)
                p0 = {"num": num, "predir": predir, "street": name, "suffix": suf, "unit": None}
                if _situs(p0) in self.cad_keys[city]:
                    continue
                # every city has at least one of each kind
                kind = ("retail", "office", "restaurant", "apartment", "hoa")[len(com)] if len(com) < 5 else rng.choice(com_kinds)
                p = self._new_prop(city, kind, num, predir, name, suf, None, zip=rng.choice(cfg["zips"]))
                word = rng.choice(COM_OWNER_WORDS)
                owner = {
                    "retail": f"{word} {rng.choice(('VILLAGE', 'CROSSING', 'MARKETPLACE', 'PLAZA'))} RETAIL LLC",
                    "office": f"{word} OFFICE PARTNERS {rng.choice(('LLC', 'LP'))}",
                    "restaurant": f"{word} PAD SITES LLC",
                    "apartment": f"{rng.choice(APARTMENT_NAMES).upper()} APARTMENTS LP",
                    "hoa": f"{rng.choice(cfg['subdivisions']).upper()} HOMEOWNERS ASSOCIATION INC",
                }[kind]
                p.update(first="", last="", type="llc", owner=owner,
                         value=rng.randrange(2600000, 48000000, 1000) if kind != "hoa" else rng.randrange(900000, 4500000, 1000))
                self._mailing(p, True)
                p["homestead"] = "N"
                com.append(p)
            # condo units on the first arterial
            predir, name, suf = cfg["arterials"][0]
            base = rng.randrange(700, 2900, 2)
            for u in range(1, rng.randrange(8, 16)):
                p = self._new_prop(city, "res", base, predir, name, suf, u, zip=cfg["zips"][0])
                p.update(self._owner("res"))
                p["value"] = rng.randrange(180000, 340000, 100)
                absentee = p["type"] == "llc" or rng.random() < 0.3
                self._mailing(p, absentee)
                p["homestead"] = "N" if absentee else "Y"
                res.append(p)
            # expensive homes first for draws that skew high
            res_sorted = sorted(res, key=lambda q: (q["value"], q["num"], q["street"]))
            kinds: dict[str, list[dict]] = {"res": res, "res_sorted": res_sorted}
            for p in com:
                kinds.setdefault(p["kind"], []).append(p)
            self.by_city[city] = kinds
            self.lot_streets[city] = [
                [sub, (rng.choice(NEW_STREET_NAMES), rng.choice(("DR", "LN", "TRL", "WAY", "CT"))), rng.randrange(100, 1500, 100), 0]
                for sub in cfg["subdivisions"] for _ in range(3)
            ]

    def _new_lot(self, city: str, builder: str | None, allow_cad: bool = True) -> dict:
        """A production-builder lot on a new subdivision street (often not yet in the CAD)."""
        rng = self.rng
        cfg = CITY_CFG[city]
        while True:
            st = rng.choice(self.lot_streets[city])
            sub, (name, suf), base, k = st
            st[3] += 1
            num = base + 4 * st[3] + rng.choice((0, 0, 2))
            p0 = {"num": num, "predir": "", "street": name, "suffix": suf, "unit": None}
            if _situs(p0) not in self.cad_keys[city]:
                break
        lot = {"city": city, "cad_city": city.upper(), "kind": "lot", "num": num, "predir": "", "street": name,
               "suffix": suf, "unit": None, "zip": rng.choice(cfg["zips"]), "sub": sub,
               "lot": rng.randrange(1, 60), "blk": rng.choice("ABCDEFGHJK"), "first": "", "last": "",
               "type": "llc", "builder": builder}
        if allow_cad and rng.random() < NOISE["builder_lot_in_cad"]:
            b = builder or rng.choice(PRODUCTION_BUILDERS)
            lot.update(owner=BUILDER_CAD_OWNER[b], value=rng.randrange(180000, 260000, 500), homestead="N",
                       mail_address=f"{rng.randrange(1000, 9999)} {rng.choice(('STATE HIGHWAY 121', 'DALLAS PKWY', 'LEGACY DR'))} STE {rng.randrange(100, 600)}",
                       mail_city=rng.choice(("PLANO", "FRISCO", "DALLAS", "IRVING")), mail_state="TX", mail_zip="75024")
            self.cad_keys[city].add(_situs(lot))
            self.props.append(lot)
        else:
            self.cad_keys[city].add(_situs(lot))   # reserve the address (not written to the CAD)
        self.lots[city].append(lot)
        return lot

    def _unmatched(self, city: str) -> dict:
        """A residential address the CAD does not know: a typo of a real one or a brand-new lot."""
        rng = self.rng
        for _ in range(50):
            p = dict(rng.choice(self.by_city[city]["res"]))
            mode = rng.random()
            if mode < 0.35:
                s = str(p["num"])
                if len(s) > 1 and s[0] != s[1] and s[1] != "0":
                    p["num"] = s[1] + s[0] + s[2:]
                else:
                    p["num"] = int(s) + rng.choice((1, 3, 11))
            elif mode < 0.70:
                name = p["street"]
                i = rng.randrange(1, len(name) - 1)
                if name[i] == " " or name[i - 1] == " ":
                    continue
                p["street"] = name[:i] + name[i + 1:] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]
            elif mode < 0.85:
                p["suffix"] = rng.choice([s for s in ("DR", "LN", "CT", "ST", "TRL") if s != p["suffix"]])
            else:
                return self._new_lot(city, None, allow_cad=False)
            if _situs(p) not in self.cad_keys[city]:
                p["kind"] = "unmatched"
                return p
        return self._new_lot(city, None, allow_cad=False)

    def _pick_property(self, city: str, kind: str, cat_name: str, builder: str | None) -> dict:
        rng = self.rng
        k = self.by_city[city]
        if kind == "lot":
            lots = [l for l in self.lots[city][-40:] if l.get("builder")]
            if builder is None and lots and rng.random() < 0.7:
                return rng.choice(lots)         # temp power on a lot a builder is working on
            return self._new_lot(city, builder)
        if kind.startswith("com:"):
            pool = [p for kk in kind[4:].split(",") for p in k.get(kk, [])]
            return rng.choice(pool)
        if rng.random() < NOISE["unmatched_address"]:
            return self._unmatched(city)
        if kind == "res_hi":
            s = k["res_sorted"]
            return s[min(len(s) - 1, int(len(s) * rng.random() ** 0.45))]
        return rng.choice(k["res"])

    # ---- permits -----------------------------------------------------------------------

    def _permit(self, city: str, day: date, cat_name: str) -> dict:
        rng = self.rng
        cat = BUILDER_CAT if cat_name == "builder" else CATEGORIES[cat_name]
        builder = rng.choice(PRODUCTION_BUILDERS) if cat_name == "builder" else None
        prop = self._pick_property(city, cat["kind"], cat_name, builder)
        ptype, wclass = rng.choice(cat["types"])
        slots = _slots(rng)
        if prop["kind"] == "lot":
            slots.update(lot=prop["lot"], blk=prop["blk"], sub=prop["sub"])
        desc = rng.choice(cat["descs"]).format(**slots)
        r = rng.random()
        if r < NOISE["upper_description"]:
            desc = desc.upper()
        elif r < NOISE["upper_description"] + NOISE["lower_description"]:
            desc = desc.lower()
        if desc and rng.random() < NOISE["non_ascii_description"]:
            desc = f"{rng.choice(ACCENTED_NAMES)} residence – {desc}"

        # who pulled it
        trade = cat["trade"]
        homeowner = (cat_name in HOMEOWNER_OK and prop.get("type") in ("person", "trust", None)
                     and rng.random() < NOISE["homeowner"])
        if homeowner:
            if prop.get("first"):
                applicant = prop["owner"] if prop.get("owner") and rng.random() < 0.5 else _natural_name(prop)
            else:
                applicant = " ".join(_person(rng))
            contractor = rng.choice(("", "", "HOMEOWNER", "Owner", "HOMEOWNER"))
        else:
            if trade == "builder":
                contractor = builder
            elif trade == "custom":
                contractor = rng.choice(CUSTOM_BUILDERS)
            elif trade == "companion":
                contractor = rng.choice(CONTRACTORS[{"Residential Electrical": "electrical",
                                                     "Residential Plumbing": "plumbing",
                                                     "Residential Mechanical": "hvac"}[ptype]])
            else:
                contractor = rng.choice(CONTRACTORS[trade])
            r = rng.random()
            applicant = contractor if r < 0.55 else (" ".join(_person(rng)) if r < 0.9 else rng.choice(EXPEDITORS))
            if rng.random() < NOISE["missing_contractor"]:
                contractor = ""
        if rng.random() < NOISE["missing_applicant"]:
            applicant = ""

        value = None if rng.random() < NOISE["missing_valuation"] else _log_uniform(rng, *cat["val"])
        if value is not None:
            r = rng.random()
            value = round(value, -2) if r < 0.6 else (float(round(value)) if r < 0.85 else round(value, 2))
        lag = rng.randint(*cat["lag"])
        applied = day - timedelta(days=lag)
        self.seq[city] += 1
        suite = None
        if prop["kind"] not in ("res", "unmatched", "lot") and rng.random() < NOISE["commercial_suite"]:
            suite = slots["suite"]
        zip_ = prop["zip"]
        if rng.random() < NOISE["zip_plus4"]:
            zip_ = f"{zip_}-{rng.randrange(1000, 9999)}"
        return {
            "city": city, "seq": self.seq[city], "ptype": ptype, "wclass": wclass, "desc": desc,
            "applied": applied, "issued": day, "address": _render_street(
                rng, prop["num"], prop["predir"], prop["street"], prop["suffix"], prop["unit"], suite),
            "zip": zip_, "value": value, "applicant": applicant, "contractor": contractor,
            "status": rng.choices(("Issued", "Active", "Finaled", "Void"), (90, 6, 3, 1))[0],
            "t_issued": (rng.randrange(7, 17), rng.choice((0, 5, 15, 20, 30, 40, 45, 50))),
            "t_applied": (rng.randrange(7, 18), rng.randrange(0, 60)),
            "commercial": cat_name.startswith("commercial") or cat_name == "sign", "cat": cat_name,
        }

    def _permit_num(self, pm: dict) -> str:
        yy = pm["issued"].year % 100
        word = pm["ptype"].split()[-1] if pm["ptype"].startswith(("Residential", "Commercial")) else pm["ptype"].split()[0]
        g = PERMIT_GROUP.get(word, "B")
        seq = pm["seq"]
        fmt = CITY_CFG[pm["city"]]["permit_fmt"]
        if fmt == "plano":
            return f"{g}P-{yy:02d}-{seq:06d}"
        if fmt == "allen":
            trade = {"B": "BLD", "M": "MEC", "E": "ELE", "P": "PLM", "S": "SGN"}[g]
            return f"{'C' if pm['commercial'] else 'R'}{trade}-{pm['issued'].year}-{seq:05d}"
        if fmt == "mckinney":
            return f"{yy:02d}-{seq:05d}-{'COM' if pm['commercial'] else 'RES'}"
        if fmt == "frisco":
            return f"{g}{yy:02d}-{seq:05d}"
        return f"{'COM' if pm['commercial'] else 'RES'}{yy:02d}-{seq:04d}"

    def _siblings(self, pm: dict, di: int) -> list[tuple[int, dict]]:
        """(day index, permit): the electrical/plumbing/mechanical permits of a building project,
        filed under the building permit's number (same sequence, another trade letter), the same
        day or up to a few days later (then in a later day's file)."""
        rng = self.sib_rng
        if (pm["city"] not in PROJECT_CITIES or pm.get("special") or pm["commercial"]
                or pm["cat"] not in PROJECT_CATEGORIES or rng.random() >= 0.6):
            return []
        out = []
        for trade in rng.sample(("electrical", "plumbing", "hvac"), rng.randint(1, 3)):
            lag = rng.choice((0, 0, 1, 2, 4))
            sib = dict(pm)
            sib["ptype"], sib["wclass"] = {"electrical": ("Residential Electrical", "New"),
                                           "plumbing": ("Residential Plumbing", "New"),
                                           "hvac": ("Residential Mechanical", "New")}[trade]
            sib["desc"] = f"{trade.upper() if trade == 'hvac' else trade.title()} for {pm['desc']}"
            # Trade permits mostly carry no valuation or owner: the building permit does.
            sib["value"] = None if rng.random() < 0.3 else float(rng.randrange(900, 15000))
            sib["contractor"] = rng.choice(CONTRACTORS[trade])
            sib["applicant"] = sib["contractor"]
            sib["issued"] = pm["issued"] + timedelta(days=lag)
            sib["sibling"] = True
            sib["num_override"] = self._permit_num({**sib, "issued": pm["issued"]})
            out.append((di + lag, sib))
        return [(d, sib) for d, sib in out if d < self.days]

    # ---- rendering ---------------------------------------------------------------------

    def _money(self, v: float) -> str:
        if v == int(v):
            return str(int(v)) if self.rng.random() < 0.5 else f"{v:.2f}"
        return f"{v:.2f}"

    def _render(self, pm: dict) -> list | dict:
        rng = self.rng
        city = pm["city"]
        fmt = CITY_CFG[city]["permit_fmt"]
        num = pm.get("num_override") or self._permit_num(pm)
        v = pm["value"]
        if fmt == "prosper":
            def dt(d: date, t) -> str:
                return f"{d.isoformat()}T{t[0]:02d}:{t[1]:02d}:00"
            value = pm.get("value_override", v if v is None or v != int(v) else int(v))
            return {
                "permit_no": num, "type": pm["ptype"], "work_class": pm["wclass"], "description": pm["desc"],
                "issued": pm.get("issued_override") or dt(pm["issued"], pm["t_issued"]),
                "applied": dt(pm["applied"], pm["t_applied"]), "address": pm["address"], "zip": pm["zip"],
                "value": value, "applicant": pm["applicant"] or None, "contractor": pm["contractor"] or None,
            }
        if "value_override" in pm:
            value = pm["value_override"]
        elif v is None:
            value = "N/A" if rng.random() < 0.15 else ""
        else:
            value = f"${v:,.2f}" if fmt == "frisco" else self._money(v)
        if fmt == "frisco":
            first = pm["ptype"].split()[0]
            if first in ("Residential", "Commercial"):
                rest = pm["ptype"][len(first) + 1:]
                if rest in ("Building", "New", "Remodel", "Addition"):
                    rest = {"New": "New Construction", "Alteration": "Remodel"}.get(pm["wclass"], pm["wclass"])
                ptype, sub = first, rest
            elif first == "Temporary":
                ptype, sub = "Electrical", "Temporary Power"
            elif first in ("Fence", "Irrigation", "Right", "Miscellaneous"):
                ptype, sub = "Residential", pm["ptype"]
            else:
                ptype, sub = pm["ptype"], pm["wclass"]
            return [num, ptype, sub, pm["desc"], pm["applied"].isoformat(),
                    pm.get("issued_override") or pm["issued"].isoformat(), pm["address"], pm["zip"], value,
                    pm["applicant"], pm["contractor"]]
        name = CITY_CFG[city]["name"]
        return [num, pm["ptype"], pm["wclass"], pm["desc"], pm["applied"].strftime("%m/%d/%Y"),
                pm.get("issued_override") or pm["issued"].strftime("%m/%d/%Y"), pm["address"],
                name.upper() if rng.random() < 0.3 else name, "TX", pm["zip"], value, pm["applicant"],
                pm["contractor"], pm["status"]]

    # ---- the whole set -----------------------------------------------------------------

    def build(self) -> dict[str, list[list]]:
        """Rendered rows per (city, day index), duplicates and malformed rows included."""
        rng = self.rng
        names = list(CATEGORIES)
        base_w = [CATEGORIES[n]["w"] for n in names]
        files: dict[tuple[str, int], list] = {}
        carry: dict[str, list] = {c: [] for c in CITIES}
        # where the malformed rows go: (city, day index, kind, value)
        specials = [
            ("mckinney", "issued", f"13/45/{self.end_date.year}"), ("allen", "issued", "TBD"),
            ("prosper", "issued", "TBD"), ("plano", "value", "12,5OO"), ("frisco", "value", "call for price"),
            ("plano", "huge", None), ("allen", "applicant", '=HYPERLINK("http://x","click")'),
            ("frisco", "contractor", "+1 972 555 0100"), ("mckinney", "applicant", "@SUM(A1)"),
        ]
        special_days = {i: rng.randrange(self.days) for i in range(len(specials))}
        later: dict[tuple[str, int], list[dict]] = {}
        self.cp1252_day = self.days // 2
        for di in range(self.days):
            day = self.start_date + timedelta(days=di)
            weekend = day.weekday() >= 5
            for city in CITIES:
                cfg = CITY_CFG[city]
                w = base_w + [cfg["builder"]]
                n = max(1, round(cfg["daily"] * (0.25 if weekend else 1.3) * rng.uniform(0.85, 1.15)))
                cats = rng.choices(names + ["builder"], w, k=n)
                pms = [self._permit(city, day, c) for c in cats]
                for i, (sc, field, val) in enumerate(specials):
                    if sc == city and special_days[i] == di:
                        pm = self._permit(city, day, "remodel" if field == "huge" else "fence")
                        if field == "issued":
                            pm["issued_override"] = val
                        elif field == "value":
                            pm["value_override"] = val
                        elif field == "huge":
                            pm["desc"] = _huge_description()
                        else:
                            pm[field] = val
                        pm["special"] = True
                        pms.insert(rng.randrange(len(pms) + 1), pm)
                if city == "frisco" and di == self.cp1252_day:
                    pm = self._permit(city, day, "outdoor_living")
                    pm["desc"] = "Muñoz residence – outdoor kitchen & cabana, café lights"
                    pm["special"] = True
                    pms.insert(rng.randrange(len(pms) + 1), pm)
                for pm in list(pms):
                    for d, sib in self._siblings(pm, di):
                        later.setdefault((city, d), []).append(sib)
                rows = [self._render(pm) for pm in pms]
                rows += [self._render(sib) for sib in later.pop((city, di), [])]
                out = list(rows)
                # duplicates inside the file
                for pm, row in zip(pms, rows):
                    if not pm.get("special") and rng.random() < NOISE["dup_in_file"]:
                        out.insert(rng.randrange(len(out) + 1), row)
                # yesterday's repeats
                for row in carry[city]:
                    out.insert(rng.randrange(len(out) + 1), row)
                carry[city] = [row for pm, row in zip(pms, rows)
                               if not pm.get("special") and rng.random() < NOISE["repeat_next_day"]]
                files[(city, di)] = out
        return files


def _huge_description() -> str:
    block = ("Full interior remodel per attached scope: demo existing kitchen cabinets and counters, "
             "relocate sink to island, new quartz countertops, new LVP flooring throughout first floor, "
             "replace all interior doors and trim, paint, new recessed lighting on existing circuits. ")
    text = "Interior remodel - " + block * (102400 // len(block) + 1)
    return text[:102400]


def _write_csv(path: Path, header, rows, encoding: str = "utf-8") -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))


def generate_demo(root: Path, end_date: date, days: int = 28, seed: int = 20261128) -> dict:
    """Write landing files and CAD records under root; return counts:
    {"files": int, "permit_rows": int, "property_rows": int, "days": days, "start_date": date, "end_date": end_date}

    "files" counts the landing (permit) files, one per city per day. Existing files are
    overwritten, other files under root are left alone.
    """
    root = Path(root)
    demo = _Demo(end_date, days, seed)
    files = demo.build()
    permit_rows = 0
    for (city, di), rows in files.items():
        day = demo.start_date + timedelta(days=di)
        d = root / "landing" / city
        d.mkdir(parents=True, exist_ok=True)
        fmt = CITY_CFG[city]["permit_fmt"]
        permit_rows += len(rows)
        if fmt == "prosper":
            text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
            (d / f"{city}_permits_{day.isoformat()}.json").write_bytes(text.encode("utf-8"))
        else:
            header = FRISCO_HEADER if fmt == "frisco" else SOCRATA_HEADER
            enc = "cp1252" if (city == "frisco" and di == demo.cp1252_day) else "utf-8"
            _write_csv(d / f"{city}_permits_{day.isoformat()}.csv", header, rows, enc)

    # CAD: prop ids assigned in a shuffled order, written sorted by id
    rng = demo.rng
    props = list(demo.props)
    rng.shuffle(props)
    ids = sorted(rng.sample(range(2_000_000, 2_900_000), len(props)))
    cad_rows = []
    formula_at = rng.randrange(len(props))
    for i, (pid, p) in enumerate(zip(ids, props)):
        owner = p["owner"] if i != formula_at else '=HYPERLINK("http://x","click")'
        mail = (p["mail_address"], p["mail_city"], p["mail_state"], p["mail_zip"])
        if rng.random() < 0.008:
            mail = ("", "", "", "")
        value = "" if rng.random() < 0.01 else str(p["value"])
        cad_rows.append([pid, _situs(p), p["cad_city"], p["zip"], owner, *mail, value, p["homestead"]])
    (root / "cad").mkdir(parents=True, exist_ok=True)
    _write_csv(root / CAD_FILE, CAD_HEADER, cad_rows)
    return {"files": len(files), "permit_rows": permit_rows, "property_rows": len(cad_rows),
            "days": days, "start_date": demo.start_date, "end_date": end_date}


def set_partition_start(config: Path, start: date) -> None:
    """Make `[partitions] start_date` in leads.toml the demo's first day, so the day partitions
    begin where the demo data does (the UI then shows them all filled, none missing).

    Edits that one value in place, so the file's comments and layout stay as they were.
    """
    text = Path(config).read_text()
    value = f'start_date = "{start.isoformat()}"'
    section = re.search(r"(?ms)^\[partitions\][^\n]*\n(.*?)(?=^\[|\Z)", text)
    if section is None:
        text = text.rstrip("\n") + f"\n\n[partitions]\n{value}\n"
    elif re.search(r"(?m)^start_date\s*=.*$", section.group(1)):
        body = re.sub(r'(?m)^start_date\s*=\s*("[^"]*"|\S+)', value, section.group(1), count=1)
        text = text[:section.start(1)] + body + text[section.end(1):]
    else:
        text = text[:section.start(1)] + value + "\n" + text[section.start(1):]
    if str(tomllib.loads(text)["partitions"]["start_date"]) != start.isoformat():
        raise ValueError(f"{config}: could not set [partitions] start_date")
    Path(config).write_text(text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write the demo permit landing files and CAD records.")
    ap.add_argument("--out", type=Path, default=Path("data"), help="root directory (default: data)")
    ap.add_argument("--end-date", required=True, type=lambda s: datetime.strptime(s, "%Y-%m-%d").date(),
                    help="last issued day, YYYY-MM-DD (normally yesterday)")
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args(argv)
    counts = generate_demo(args.out, args.end_date, args.days, args.seed)
    print(json.dumps(counts, default=str))


if __name__ == "__main__":
    main()
