with

tracks as (

    select * from {{ ref('stg_landing__tracks') }}

),

artists as (

    select * from {{ ref('stg_landing__artists') }}

),

track_identity as (

    select * from {{ ref('int_track_identity') }}

),

-- Kimball's inferred member: a track heard before the catalogue holds it (a late dimension row,
-- or a catalogue row that was rejected) gets a row of its own id, marked inferred, so its
-- listens land and join. The catalogue's row replaces it once the catalogue catches up.
heard_not_catalogued as (

    select distinct listens.track_id
    -- The landing table, not the daily view over it: the catalogue's models stay apart from
    -- the daily ones, whose tests read dim_track.
    from {{ source('landing', 'listens') }} as listens
    where not exists (
        select 1 from tracks where tracks.track_id = listens.track_id
    )

),

catalogued as (

    select
        -- ids
        tracks.track_id,
        tracks.artist_id,
        tracks.album_id,
        tracks.track_mbid,
        track_identity.spotify_track_id,
        track_identity.track_identity_key,
        track_identity.canonical_track_id,

        -- descriptive
        tracks.track_name,
        artists.artist_name,
        tracks.album_name,
        tracks.release_date,
        cast(extract(year from tracks.release_date) as {{ dbt.type_int() }}) as release_year,
        tracks.duration_ms,
        tracks.is_explicit,
        tracks.popularity,
        -- Tracks without a genre of their own take their artist's main genre.
        coalesce(tracks.genre, artists.primary_genre) as genre,

        -- audio features
        tracks.danceability,
        tracks.energy,
        tracks.musical_key,
        tracks.loudness,
        tracks.mode,
        tracks.speechiness,
        tracks.acousticness,
        tracks.instrumentalness,
        tracks.liveness,
        tracks.valence,
        tracks.tempo,
        tracks.time_signature,

        -- load metadata
        tracks.source_name,
        tracks.loaded_at,
        false as is_inferred

    from tracks
    left join artists
        on tracks.artist_id = artists.artist_id
    left join track_identity
        on tracks.track_id = track_identity.track_id

),

inferred as (

    select
        track_id,
        cast(null as {{ dbt.type_string() }}) as artist_id,
        cast(null as {{ dbt.type_string() }}) as album_id,
        cast(null as {{ dbt.type_string() }}) as track_mbid,
        cast(null as {{ dbt.type_string() }}) as spotify_track_id,
        cast(null as {{ dbt.type_string() }}) as track_identity_key,
        -- It stands for itself until the catalogue says otherwise.
        track_id as canonical_track_id,
        cast(null as {{ dbt.type_string() }}) as track_name,
        cast(null as {{ dbt.type_string() }}) as artist_name,
        cast(null as {{ dbt.type_string() }}) as album_name,
        cast(null as date) as release_date,
        cast(null as {{ dbt.type_int() }}) as release_year,
        cast(null as {{ dbt.type_int() }}) as duration_ms,
        cast(null as boolean) as is_explicit,
        cast(null as {{ dbt.type_int() }}) as popularity,
        cast(null as {{ dbt.type_string() }}) as genre,
        cast(null as {{ dbt.type_float() }}) as danceability,
        cast(null as {{ dbt.type_float() }}) as energy,
        cast(null as {{ dbt.type_int() }}) as musical_key,
        cast(null as {{ dbt.type_float() }}) as loudness,
        cast(null as {{ dbt.type_int() }}) as mode,
        cast(null as {{ dbt.type_float() }}) as speechiness,
        cast(null as {{ dbt.type_float() }}) as acousticness,
        cast(null as {{ dbt.type_float() }}) as instrumentalness,
        cast(null as {{ dbt.type_float() }}) as liveness,
        cast(null as {{ dbt.type_float() }}) as valence,
        cast(null as {{ dbt.type_float() }}) as tempo,
        cast(null as {{ dbt.type_int() }}) as time_signature,
        'not yet in the catalogue' as source_name,
        cast(null as {{ dbt.type_timestamp() }}) as loaded_at,
        true as is_inferred

    from heard_not_catalogued

),

final as (

    select * from catalogued
    union all
    select * from inferred

)

select * from final
