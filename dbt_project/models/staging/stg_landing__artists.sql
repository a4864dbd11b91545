with

source as (

    select * from {{ source('landing', 'artists') }}

),

renamed as (

    select
        -- ids
        artist_id,
        nullif(trim(artist_mbid), '') as artist_mbid,

        -- names
        trim(artist_name) as artist_name,
        {{ normalise_name_key('artist_name') }} as artist_name_key,

        -- attributes
        nullif(upper(trim(country)), '') as country_code,
        nullif(lower(trim(genres)), '') as genres,
        nullif(trim({{ dbt.split_part('lower(genres)', "';'", 1) }}), '') as primary_genre,

        -- measures
        popularity,
        followers,

        -- load metadata
        source as source_name,
        batch_id,
        {{ to_utc_timestamp('loaded_at') }} as loaded_at

    from source

)

select * from renamed
