{% macro incremental_tmp_relation_type() %}
    {#-
        tmp_relation_type of the daily incremental models. On Snowflake a transient table: it
        is what fakesnow supports (its temporary tables break incremental runs) and it is valid on
        real Snowflake too. Other adapters keep their default (none).
    -#}
    {{ return('transient' if target.type == 'snowflake' else none) }}
{% endmacro %}
