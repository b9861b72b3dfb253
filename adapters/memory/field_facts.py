"""Facts about standard objects that describe does not carry: key prefixes of objects outside the catalog,
and the standard sales process's stage probabilities."""

from __future__ import annotations

from core.describe import TEXT_TYPES

# Objects outside the catalog that standard lookups point at (referenceTo), with their documented key prefixes.
OTHER_KEY_PREFIXES = {
    "Group": "00G", "Profile": "00e", "UserRole": "00E", "BusinessProcess": "019", "Campaign": "701",
    "Asset": "02i", "Pricebook2": "01s", "Individual": "0PK", "OperatingHours": "0OH", "DandBCompany": "06E",
    "OpportunityHistory": "008",
}
# Opportunity.Probability defaults from the stage, as the standard sales process does.
STAGE_PROBABILITY = {"Prospecting": 10, "Qualification": 10, "Needs Analysis": 20, "Value Proposition": 50,
                     "Id. Decision Makers": 60, "Perception Analysis": 70, "Proposal/Price Quote": 75,
                     "Negotiation/Review": 90, "Closed Won": 100, "Closed Lost": 0}

__all__ = ["OTHER_KEY_PREFIXES", "STAGE_PROBABILITY", "TEXT_TYPES"]
