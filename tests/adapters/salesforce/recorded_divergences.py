"""What real orgs answered where sfdest once misread them, extracted from public recordings with provenance.

Facts only (status, JSON shape, error code and wording, CSV columns and values), in our own layout; each
block names its source: repository, path, commit, and kind (recording, captured fixture, quoted log or
documented example).
"""

from __future__ import annotations

from tests.adapters.salesforce.fakes import DATA, field

# 1. Bulk API 2.0 successfulResults echo values as stored -------------------------------------------
# Source: Salesforce, "Bulk API 2.0 and Bulk API Developer Guide" (v66.0), Quick Start, Step 3: Bulk Insert
# (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/), the bulkinsert.csv upload
# and the "Example response body" of GET /jobs/ingest/7505fEXAMPLE4C2AAM/successfulResults/. Kind: documented
# example. The PDF text wraps long cells over lines; those wraps are removed here. AnnualRevenue (currency)
# comes back in Java Double.toString form (912260031 -> 9.12260031E8); NumberOfEmployees (int) as uploaded.
GUIDE_JOB_ID = "7505fEXAMPLE4C2AAM"
GUIDE_COLUMNS = ("Name", "ShippingCity", "NumberOfEmployees", "AnnualRevenue", "Website", "Description")
GUIDE_UPLOAD = [
    ("Lorem Ipsum", "Milano", 2676, 912260031, "https://ft.com/lacus/at.jsp", "Lorem ipsum dolor sit amet"),
    ("Posuere Inc", "Bodø", 141603, 896852810, "http://webs.com/in/faucibus/orci/luctus/et/ultrices/posuere.json",
     "consectetur adipiscing elit"),
    ("Angeles Urban", "Aykol", 197724, 257060529, "http://odnoklassniki.ru/sapien.aspx",
     "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua"),
    ("Madaline Neubert Shoes", "Xukou", 190305, 71664061,
     "https://blogs.com/faucibus/orci/luctus/et/ultrices/posuere/cubilia.json", "Ut enim ad minim veniam"),
    ("Times Online UK", "Varadero", 121802, 58284123, "http://timesonline.co.uk/eu/magna.html",
     "quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat"),
    ("The Washington Post", "Hengdaohezi", 190944, 164329406,
     "http://washingtonpost.com/vestibulum/proin/eu/mi/nulla/ac/enim.png",
     "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur"),
    ("Amazon", "Quintães", 80285, 684173825, "http://amazon.co.uk/potenti/cras/in/purus/eu.png",
     "Excepteur sint occaecat cupidatat non proident"),
]
GUIDE_IDS = ["0018c00002FInboAAD", "0018c00002FInbpAAD", "0018c00002FInbqAAD", "0018c00002FInbrAAD",
             "0018c00002FInbsAAD", "0018c00002FInbtAAD", "0018c00002FInbuAAD"]
GUIDE_ECHOED_REVENUE = ["9.12260031E8", "8.9685281E8", "2.57060529E8", "7.1664061E7", "5.8284123E7",
                        "1.64329406E8", "6.84173825E8"]


def guide_successful_results(order: list[int]) -> str:
    """The guide's successfulResults CSV, rows in the given order (Salesforce promises none)."""
    lines = ['"sf__Id","sf__Created",' + ",".join(GUIDE_COLUMNS)]
    for n in order:
        name, city, employees, _, website, description = GUIDE_UPLOAD[n]
        cells = [GUIDE_IDS[n], "true", name, city, str(employees), GUIDE_ECHOED_REVENUE[n], website, description]
        lines.append(",".join('"' + c + '"' for c in cells))
    return "\n".join(lines) + "\n"


# The Account fields of the upload, typed as a describe of Account types them.
ACCOUNT_DESCRIBE = {
    "name": "Account", "label": "Account", "keyPrefix": "001", "createable": True, "updateable": True,
    "deletable": True, "queryable": True,
    "fields": [field("Id", "id", createable=False, updateable=False, nillable=False, idLookup=True),
               field("Name", nillable=False), field("ShippingCity"), field("NumberOfEmployees", "int"),
               field("AnnualRevenue", "currency"), field("Website", "url"),
               field("Description", "textarea", filterable=False, length=32000)],
    "urls": {"describe": f"{DATA}/sobjects/Account/describe"},
}

# 2. DUPLICATE_VALUE names its field only in the message --------------------------------------------
# Source: appirio-tech/tc-connect2sf, consumer/test/ConsumerService.spec.js (a stored version, 342225e;
# earlier versions name Connect_Project_Id__c). Kind: captured fixture of a Lead insert refused by a real
# org: [{"message":"duplicate value found: TC_Connect_Project_Id__c duplicates value on record with id:
# 00Q58000003tW4u","errorCode":"DUPLICATE_VALUE","fields":[]}].
# Source: forcedotcom/salesforcedx-vscode, packages/salesforcedx-vscode-apex-replay-debugger/src/breakpoints/
# checkpointService.ts (2018 versions; the comment is gone at HEAD). Kind: quoted log:
# "[{"message":"duplicate value found: ScopeId duplicates value on record with id: 1doxx00000000Pn",
# "errorCode":"DUPLICATE_VALUE","fields":[]}]". Same wording and "fields": [] inside sObject Collections
# results (statusCode instead of errorCode).
DUPLICATE_KEY = "TC_Connect_Project_Id__c"
DUPLICATE_HOLDER_15 = "00Q58000003tW4u"
DUPLICATE_RACE = {"success": False, "errors": [{
    "statusCode": "DUPLICATE_VALUE", "fields": [],
    "message": f"duplicate value found: {DUPLICATE_KEY} duplicates value on record with id: {DUPLICATE_HOLDER_15}"}]}
# Source: vlocityinc/vlocity_build, README.md (a stored version, "Error >> AttributeCategory/Product_Attributes
# --- ... --- duplicate value found: <unknown> duplicates value on record with id: <unknown>"). Kind: quoted
# log. The org masks the field and the record from a user who cannot see the record holding the value.
DUPLICATE_MASKED = {"success": False, "errors": [{
    "statusCode": "DUPLICATE_VALUE", "fields": [],
    "message": "duplicate value found: <unknown> duplicates value on record with id: <unknown>"}]}
# Source: OpenFn/docs, Troubleshooting.md @ c3f198b66b651a621af803c20b6376b386a3e7fc. Kind: quoted log:
# "DUPLICATE_VALUE: duplicate value found: ODK_uuid__c duplicates value on record with id: a0524000005wNw0".
DUPLICATE_OTHER_FIELD = {"success": False, "errors": [{
    "statusCode": "DUPLICATE_VALUE", "fields": [],
    "message": "duplicate value found: ODK_uuid__c duplicates value on record with id: a0524000005wNw0"}]}

# 3. An update or delete of an id that is no record --------------------------------------------------
# sObject Collections: INVALID_CROSS_REFERENCE_KEY "invalid cross reference id", no "id", "fields": [].
# Source: issue 8 of this project (the shape real orgs gave when its session replayed them) and
# /work/shared/reference/salesforce-rest-api.md §7.4 (Bulk: "INVALID_CROSS_REFERENCE_KEY:invalid cross
# reference id:--", observed). Corroborated by forcedotcom/salesforcedx-vscode,
# packages/salesforcedx-vscode-apex-replay-debugger/test/unit/commands/batchDeleteExistingOverlayActionsCommand
# .test.ts @ 8afd54eac0f3fc27563d51e24fbf9be97b255356 (captured fixture: a DELETE of a record that is gone
# answers [{"errorCode":"INVALID_CROSS_REFERENCE_KEY","message":"invalid cross reference id"}] with status 404).
NO_SUCH_RECORD = {"success": False, "errors": [{
    "statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id", "fields": []}]}
# The same code naming a lookup field: a refused value, not a missing record.
BAD_LOOKUP = {"success": False, "errors": [{
    "statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id", "fields": ["OwnerId"]}]}
BULK_NO_SUCH_RECORD = "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--"
