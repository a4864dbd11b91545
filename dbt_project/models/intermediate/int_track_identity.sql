{%- set spotify_id_sources = var('spotify_id_sources') %}

with

tracks as (

    select * from {{ ref('stg_landing__tracks') }}

),

artists as (

    select * from {{ ref('stg_landing__artists') }}

),

track_identity_keys as (

    select
        tracks.track_id,
        tracks.artist_id,
        -- || keeps a missing part null on every target; concat() skips nulls on some.
        artists.artist_name_key || ' - ' || tracks.track_name_key as track_identity_key,
        tracks.track_mbid,
        -- The catalogue lands as one batch labelled with all its sources ("spotify+kaggle"),
        -- so a Spotify id is one from such a batch that is not derived from names.
        case
            when tracks.track_id not like 'name:%'
                and (
                    {%- for source_name in spotify_id_sources %}
                    '+' || tracks.source_name || '+' like '%+{{ source_name }}+%'
                    {%- if not loop.last %} or{% endif %}
                    {%- endfor %}
                ) then tracks.track_id
        end as spotify_track_id,
        tracks.popularity

    from tracks
    left join artists
        on tracks.artist_id = artists.artist_id

),

-- Tracks sharing an identity key (a single and its album version, say) point to the most
-- popular one; later sources add their candidates to the same key.
final as (

    select
        track_id,
        artist_id,
        track_identity_key,
        track_mbid,
        spotify_track_id,
        first_value(track_id) over (
            partition by track_identity_key
            order by coalesce(popularity, -1) desc, track_id
            rows between unbounded preceding and unbounded following
        ) as canonical_track_id

    from track_identity_keys

)

select * from final
