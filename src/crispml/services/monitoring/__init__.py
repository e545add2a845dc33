"""monitoring (CloudWatch): call metrics now; alarms, logs and Model Monitor later."""
