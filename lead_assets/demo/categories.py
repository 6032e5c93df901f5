"""Demo permit categories: weight, permit types, texts, valuation range and who pulls each.

A table of data, not logic: long because the demo covers every trade the taxonomy sells.
"""
from __future__ import annotations

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

