{% macro duckdb__type_float() %}
    {#- dbt's default `float` is 4-byte REAL on DuckDB; PostgreSQL and Snowflake floats are doubles. -#}
    {{ return('double') }}
{% endmacro %}
