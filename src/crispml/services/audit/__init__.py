"""audit (CloudTrail): the record of every operation, successful or refused."""
