{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
{#- Inclusive bounds; either may be omitted. Nulls pass (test them with not_null). -#}

select {{ column_name }}
from {{ model }}
where
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% endif %}
    {%- if min_value is not none and max_value is not none %} or{% endif %}
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% endif %}

{% endtest %}
