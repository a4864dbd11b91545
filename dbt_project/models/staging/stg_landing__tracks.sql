with

source as (

    select * from {{ source('landing', 'tracks') }}

),

renamed as (

    select
        -- ids
        track_id,
        nullif(trim(track_mbid), '') as track_mbid,
        artist_id,
        album_id,

        -- names
        trim(track_name) as track_name,
        {{ normalise_name_key('track_name') }} as track_name_key,
        trim(album_name) as album_name,

        -- attributes
        release_date,
        duration_ms,
        explicit as is_explicit,
        popularity,
        nullif(lower(trim(genre)), '') as genre,

        -- audio features
        danceability,
        energy,
        key as musical_key,
        loudness,
        mode,
        speechiness,
        acousticness,
        instrumentalness,
        liveness,
        valence,
        tempo,
        time_signature,

        -- load metadata
        source as source_name,
        batch_id,
        {{ to_utc_timestamp('loaded_at') }} as loaded_at

    from source

)

select * from renamed
