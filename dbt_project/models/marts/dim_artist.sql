with

artists as (

    select * from {{ ref('stg_landing__artists') }}

),

track_counts as (

    select
        artist_id,
        count(*) as catalogue_tracks

    from {{ ref('stg_landing__tracks') }}
    group by artist_id

),

final as (

    select
        artists.artist_id,
        artists.artist_name,
        artists.artist_name_key,
        artists.artist_mbid,
        artists.country_code,
        artists.genres,
        artists.primary_genre,
        artists.popularity,
        artists.followers,
        coalesce(track_counts.catalogue_tracks, 0) as catalogue_tracks,
        artists.source_name,
        artists.loaded_at

    from artists
    left join track_counts
        on artists.artist_id = track_counts.artist_id

)

select * from final
