{% macro iso_day_of_week(date_expression) %}
    {#- 1 = Monday ... 7 = Sunday, whatever the session's week settings. -#}
    {{ return(adapter.dispatch('iso_day_of_week', 'music_platform')(date_expression)) }}
{% endmacro %}

{% macro default__iso_day_of_week(date_expression) -%}
    cast(extract(isodow from {{ date_expression }}) as {{ dbt.type_int() }})
{%- endmacro %}

{% macro snowflake__iso_day_of_week(date_expression) -%}
    dayofweekiso({{ date_expression }})
{%- endmacro %}


{% macro iso_week_of_year(date_expression) %}
    {{ return(adapter.dispatch('iso_week_of_year', 'music_platform')(date_expression)) }}
{% endmacro %}

{% macro default__iso_week_of_year(date_expression) -%}
    cast(extract(week from {{ date_expression }}) as {{ dbt.type_int() }})
{%- endmacro %}

{% macro snowflake__iso_week_of_year(date_expression) -%}
    weekiso({{ date_expression }})
{%- endmacro %}
