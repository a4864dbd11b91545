{% macro to_utc_timestamp(column) %}
    {#- A timezone-aware landing timestamp as a naive UTC timestamp, identical on every target. -#}
    {{ return(adapter.dispatch('to_utc_timestamp', 'music_platform')(column)) }}
{% endmacro %}

{% macro default__to_utc_timestamp(column) -%}
    cast(({{ column }}) at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro snowflake__to_utc_timestamp(column) -%}
    cast(convert_timezone('UTC', {{ column }}) as timestamp_ntz)
{%- endmacro %}
