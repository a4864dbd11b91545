{% macro normalise_name_key(column) -%}
    {#- The identity form of an artist or track name: trimmed, lower case, empty as null. -#}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}
