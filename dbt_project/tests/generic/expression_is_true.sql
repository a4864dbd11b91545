{% test expression_is_true(model, expression, column_name=none) %}
{#- Fails on rows where the expression is false; with a column, the expression follows it. -#}

select *
from {{ model }}
where not (
    {%- if column_name %} {{ column_name }}{% endif %} {{ expression }}
)

{% endtest %}
