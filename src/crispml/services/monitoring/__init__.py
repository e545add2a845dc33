"""monitoring (CloudWatch): call metrics, CloudWatch Logs and CloudWatch metrics; alarms and Model Monitor later."""
