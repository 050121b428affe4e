
# The stacks the benchmarks start run as in production: DEBUG off (Django's
# debug cursor formats every SQL statement with its parameters, megabytes for
# a 100-row prediction) and otherwise the defaults.
STACK_ENV = {"DJANGO_DEBUG": "0"}
