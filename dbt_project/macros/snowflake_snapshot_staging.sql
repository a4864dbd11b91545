{#-
    fakesnow cannot create the temporary staging table that snapshots use on Snowflake
    ("TEMPORARY table names can only use the temp catalog"): on Snowflake the staging table is a
    transient table instead, dropped once the snapshot is merged. Other adapters keep dbt's own.
-#}

{% macro build_snapshot_staging_table(strategy, sql, target_relation) %}
    {%- if target.type != 'snowflake' -%}
        {{ return(dbt.build_snapshot_staging_table(strategy, sql, target_relation)) }}
    {%- endif -%}
    {%- set staging_relation = make_temp_relation(target_relation) -%}
    {%- set select = snapshot_staging_table(strategy, sql, target_relation) -%}
    {% call statement('build_snapshot_staging_relation') %}
        create or replace transient table {{ staging_relation }} as (
            {{ select }}
        )
    {% endcall %}
    {{ return(staging_relation) }}
{% endmacro %}


{% macro snowflake__post_snapshot(staging_relation) %}
    {% do adapter.drop_relation(staging_relation) %}
{% endmacro %}
