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

final as (

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
        tracks.loaded_at

    from tracks
    left join artists
        on tracks.artist_id = artists.artist_id
    left join track_identity
        on tracks.track_id = track_identity.track_id

)

select * from final
