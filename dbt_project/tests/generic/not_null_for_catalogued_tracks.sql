{% test not_null_for_catalogued_tracks(model, column_name, tracks) %}
{#-
    The column is null only on rows whose track_id `tracks` (dim_track) holds no catalogued row
    for: a track heard before the catalogue holds it has nothing to describe it yet.
-#}

with checked as (

    select * from {{ model }}

)

select checked.{{ column_name }}
from checked
where checked.{{ column_name }} is null
    and exists (
        select 1
        from {{ tracks }} as tracks
        where tracks.track_id = checked.track_id
            and not tracks.is_inferred
    )

{% endtest %}
