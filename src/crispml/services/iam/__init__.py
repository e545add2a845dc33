"""iam (IAM): principals and the authorization check every operation passes."""
