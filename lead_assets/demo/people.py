"""Demo people and companies: names, builders, contractors, tenants, owners, mailing places."""
from __future__ import annotations

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

