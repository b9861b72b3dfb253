"""Strict API names (never rewritten) and Salesforce record ids (15/18 characters, checksum)."""

import pytest

from core.names import api_name_problem, checksum, normalize_id

# The reference's test vectors, checked there with an independent implementation.
VECTORS = [("a0RE000000IJmcN", "MAT"), ("a01M00000062mPg", "IAI"), ("001M000000qfPyS", "IAU"),
           ("a0FE000000D6r3F", "MAR"), ("0F9E000000092w2", "KAA"), ("aaaaaaaaaaaaaaa", "AAA"),
           ("AbCdEfGhIjKlMnO", "VKV"), ("aBcDEfgHIJKLMNO", "025"), ("a0D30000001n7Pi", "EAI"),
           ("0015000000Gf1AB", "AAZ")]


@pytest.mark.parametrize("id15,suffix", VECTORS)
def test_checksum_matches_the_reference_vectors(id15, suffix):
    assert checksum(id15) == suffix


@pytest.mark.parametrize("real", ["001D000000IRFmaIAH", "00190000001pPvHAAU", "001RM000003oLnnYAE", "0018a00001rBqb8AAC"])
def test_real_ids_from_the_docs_are_valid(real):
    assert normalize_id(real) == real
    assert normalize_id(real[:15]) == real


def test_an_id_whose_case_was_lost_is_recovered_from_its_suffix():
    assert normalize_id("001D000000IRFMAIAH") == "001D000000IRFmaIAH"
    assert normalize_id("001d000000irfmaiah") == "001D000000IRFmaIAH"


@pytest.mark.parametrize("bad", ["", "001D000000IRFmaIAX", "001D000000IRFm", "001D000000IRFmaI", "001D000000IRF-aIAH",
                                 "001D000000IRFmaIAH ", " 001D000000IRFma", "001D000000IRFmaIAH\n"])
def test_malformed_ids_are_refused(bad):
    if len(bad) == 15 and bad.isalnum():
        pytest.fail("vector list must hold only malformed ids")
    assert normalize_id(bad) is None


GOOD_NAMES = ["Email", "LastName", "Id", "External_Id__c", "ns__Score__c", "Anything__c", "A1_b2"]
BAD_NAMES = ["", "Email OR 1=1", "Email'", "1Email", "_Email", "Email_", "Em__ail", "Émail", "Email\n", "Email.Name",
             "Account.Name", "a" * 81, "Email;DROP", "Score___c", "ns__Field"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_strict_api_names_accept_real_salesforce_names(name):
    assert api_name_problem(name) is None


@pytest.mark.parametrize("name", BAD_NAMES)
def test_anything_outside_the_strict_pattern_is_refused_with_the_rule(name):
    problem = api_name_problem(name)
    assert problem is not None and ("letter" in problem or "empty" in problem or "at most" in problem)
